// Serves a fetch-style handler on node:http (or node:https with a certificate): converts each
// request, enforces the body limit while reading, streams the response (SSE included), and
// aborts the request's signal when the client goes away.
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Logger } from '../../shared/logger.js';
import { bodyTooLarge, errorResponse, type FetchHandler } from './handler.js';

export interface NodeServerOptions {
  handler: FetchHandler;
  maxBodyBytes: number;
  logger: Logger;
  tls?: { cert: Buffer; key: Buffer };
}

/** Reads the body up to `limit` bytes; undefined (stream paused, not destroyed) once it is over. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/**
 * Reads and drops what the client is still sending after a 413, so that it gets to read the
 * answer instead of a connection reset; past `cap` bytes or 10 s the connection is cut.
 */
function discardRest(req: IncomingMessage, cap: number): void {
  let seen = 0;
  const timer = setTimeout(() => req.destroy(), 10_000);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > cap) {
      clearTimeout(timer);
      req.destroy();
    }
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((v, k) => {
    if (k !== 'set-cookie') headers[k] = v;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.on('close', () => void reader.cancel().catch(() => undefined));
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value)) await new Promise<void>((r) => res.once('drain', () => r()));
  }
  res.end();
}

export function createNodeServer(opts: NodeServerOptions): Server {
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    void (async () => {
      const declared = Number(req.headers['content-length'] ?? NaN);
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      const body = hasBody && !(declared > opts.maxBodyBytes) ? await readBody(req, opts.maxBodyBytes) : undefined;
      if (hasBody && !body) {
        // Answer at once and close the connection afterwards; the rest of the body is drained
        // (bounded) so the client reads the 413 rather than a reset.
        res.setHeader('connection', 'close');
        await send(res, errorResponse(bodyTooLarge(opts.maxBodyBytes)));
        discardRest(req, opts.maxBodyBytes * 4);
        return;
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (Array.isArray(v)) for (const x of v) headers.append(k, x);
        else if (v !== undefined) headers.set(k, v);
      }
      const proto = opts.tls ? 'https' : 'http';
      const url = `${proto}://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`;
      const request = new Request(url, {
        method: req.method ?? 'GET',
        headers,
        signal: abort.signal,
        ...(body ? { body: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer } : {}),
      });
      await send(res, await opts.handler(request));
    })().catch((err: unknown) => {
      opts.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'HTTP adapter failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const server = opts.tls ? createHttps({ cert: opts.tls.cert, key: opts.tls.key }, listener) : createHttp(listener);
  // Agents keep connections alive and reuse them (heartbeats every few seconds, event batches).
  // With Node's 5 s default, a starved agent could send on a socket the server had just closed
  // ("other side closed"); idle sockets now live 65 s (clients read the hint and close first).
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 5_000;
  return server;
}

const KEEP_ALIVE_MS = 65_000;
