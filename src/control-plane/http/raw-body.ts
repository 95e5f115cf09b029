// The body of a raw-body endpoint (POST /agent/events, /agent/logs) read straight off node:http's
// IncomingMessage instead of through the web ReadableStream a fetch-style Request carries: no
// promise and no stream bookkeeping per 64 KiB piece, and one buffer sized from content-length
// (Node's parser delivers exactly that many bytes) instead of a list joined at the end.
// node-server.ts attaches the reader to the Request it builds; agent-upload.ts takes it when
// there is one (a Request from elsewhere, e.g. a test calling the handler, keeps its own body).
// The checks are unchanged: read only when the handler asks (after authentication and
// ownership), refused past the endpoint's limit while reading, never holding more than it.
// The endpoint may say where the body goes (`alloc`: /agent/logs takes its buffers from a
// pool, shared/body-pool.ts); the bytes are copied in as they arrive either way.
import type { IncomingMessage } from 'node:http';

/** Allocates a body's buffer of exactly `size` bytes (contents undefined). */
export type BodyAlloc = (size: number) => Buffer;

/** Resolves with the body, or undefined past `limit` bytes (reading stops there). */
export type RawBodyReader = (limit: number, alloc?: BodyAlloc) => Promise<Buffer | undefined>;

const readers = new WeakMap<Request, RawBodyReader>();

export function attachRawBody(request: Request, reader: RawBodyReader): void {
  readers.set(request, reader);
}

/** The request's raw body reader, at most once (the body is read once). */
export function takeRawBody(request: Request): RawBodyReader | undefined {
  const reader = readers.get(request);
  readers.delete(request);
  return reader;
}

/**
 * Reads `req` to its end, up to `limit` bytes. Past the limit it stops reading (the socket stays
 * open so the client reads the refusal; node-server.ts drains or cuts the rest) and answers
 * `overLimit()`'s error when it gives one, else undefined. A client gone mid-body rejects. The
 * declared length's buffer comes from `alloc`; once this settles nothing here writes to it.
 */
export function readIncoming(
  req: IncomingMessage,
  limit: number,
  overLimit: () => Error | undefined = () => undefined,
  alloc: BodyAlloc = (size) => Buffer.allocUnsafe(size),
): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    let whole = Number.isSafeInteger(declared) && declared >= 0 && declared <= limit ? alloc(declared) : undefined;
    const parts: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > limit) {
        stop();
        req.pause();
        const err = overLimit();
        if (err) reject(err);
        else resolve(undefined);
        return;
      }
      if (whole && size + chunk.length <= whole.length) chunk.copy(whole, size);
      else {
        // More than declared (not from Node's parser, which enforces the length): keep a list.
        if (whole) parts.push(whole.subarray(0, size));
        whole = undefined;
        parts.push(chunk);
      }
      size += chunk.length;
    };
    const onEnd = (): void => {
      stop();
      // The very buffer `alloc` gave when the length was as declared (a pool knows it by identity).
      resolve(whole ? (size === whole.length ? whole : whole.subarray(0, size)) : Buffer.concat(parts, size));
    };
    const onError = (err: Error): void => {
      stop();
      reject(err);
    };
    const onClose = (): void => {
      if (req.complete) return;
      stop();
      reject(new Error('the client closed the request before its body ended'));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
    req.resume();
  });
}
