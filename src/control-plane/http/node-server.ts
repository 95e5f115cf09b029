// Serves a fetch-style handler on node:http (or node:https with a certificate): converts each
// request, enforces the body limit while reading, streams the response (SSE included), and
// aborts the request's signal when the client goes away. The raw-body endpoints' bodies are
// read off the socket directly (raw-body.ts), not through a web stream.
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { OutpostError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { AGENT_EVENTS_PATH } from './agent-events.js';
import { AGENT_LOGS_PATH } from './agent-logs.js';
import { bodyTooLarge, errorResponse, type FetchHandler } from './handler.js';
import { attachRawBody, readIncoming } from './raw-body.js';
import { wholeBody } from './whole-body.js';

// GraphQL POSTs too: handler.ts reads their (JSON) bodies whole, so no web stream is needed.
const RAW_BODY_PATHS: ReadonlySet<string> = new Set([AGENT_EVENTS_PATH, AGENT_LOGS_PATH, '/graphql', '/agent/graphql']);

export interface NodeServerOptions {
  handler: FetchHandler;
  maxBodyBytes: number;
  logger: Logger;
  tls?: { cert: Buffer; key: Buffer };
}

/**
 * The request body as a stream the handler reads only if it wants to: the handler
 * authenticates first, so an unauthenticated request is answered without its body being read.
 * Past `limit` bytes the stream errors with BODY_TOO_LARGE and reading stops (the socket stays
 * open so that the client reads the 413; `discardRest` drains what it still sends).
 */
function bodyStream(req: IncomingMessage, limit: number): ReadableStream<Uint8Array> {
  let size = 0;
  let finished = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        req.pause();
        req.on('data', (chunk: Buffer) => {
          if (finished) return;
          size += chunk.length;
          if (size > limit) {
            finished = true;
            req.pause();
            controller.error(bodyTooLarge(limit));
            return;
          }
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          // Backpressure: read from the socket only as fast as the handler consumes.
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.once('end', () => {
          if (finished) return;
          finished = true;
          controller.close();
        });
        req.once('error', (err) => {
          if (finished) return;
          finished = true;
          controller.error(err);
        });
      },
      pull() {
        if (!finished) req.resume();
      },
      cancel() {
        finished = true;
        req.pause();
      },
    },
    { highWaterMark: 4 },
  );
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
  const whole = wholeBody(response);
  if (whole !== undefined) {
    headers['content-length'] = String(Buffer.byteLength(whole));
    res.writeHead(response.status, headers);
    res.end(whole);
    return;
  }
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

/**
 * Sends the answer; when the handler answered without reading the whole body (a 401, a 413),
 * the connection is closed after it and the rest of the body drained, bounded.
 */
async function sendThenDrain(
  req: IncomingMessage,
  res: ServerResponse,
  response: Response,
  cap: number,
): Promise<void> {
  const unread = !req.complete;
  if (unread) res.setHeader('connection', 'close');
  await send(res, response);
  if (unread && !req.complete) {
    // The body stream's own listener would queue what arrives for a reader that is gone.
    req.removeAllListeners('data');
    discardRest(req, cap * 4);
  }
}

/** A name or IPv4 address, or a bracketed IPv6 address, and an optional port: nothing else. */
const HOST_HEADER = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*)|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export function createNodeServer(opts: NodeServerOptions): Server {
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    void (async () => {
      const declared = Number(req.headers['content-length'] ?? NaN);
      // A body is what the headers announce (a length, or chunked); a bare OPTIONS or DELETE has none.
      const hasBody =
        req.method !== 'GET' &&
        req.method !== 'HEAD' &&
        (declared > 0 || req.headers['transfer-encoding'] !== undefined);
      if (hasBody && declared > opts.maxBodyBytes) {
        // Refused on the declared length, before a byte of the body is read.
        await sendThenDrain(req, res, errorResponse(bodyTooLarge(opts.maxBodyBytes)), opts.maxBodyBytes);
        return;
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (Array.isArray(v)) for (const x of v) headers.append(k, x);
        else if (v !== undefined) headers.set(k, v);
      }
      const proto = opts.tls ? 'https' : 'http';
      const url = `${proto}://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`;
      if (req.headers.host !== undefined && !HOST_HEADER.test(req.headers.host)) {
        // A Host that is no authority would fail below as a bare 500 (`:3000`), or move the
        // path the router sees away from the one a proxy checked (`cp/metrics#` + `/graphql`).
        const detail = `the Host header ${JSON.stringify((req.headers.host ?? '').slice(0, 253))} is not a host name`;
        await sendThenDrain(req, res, errorResponse(new OutpostError('BAD_REQUEST', { detail })), opts.maxBodyBytes);
        return;
      }
      const raw = hasBody && req.method === 'POST' && RAW_BODY_PATHS.has((req.url ?? '/').split('?')[0]!);
      const request = new Request(url, {
        method: req.method ?? 'GET',
        headers,
        signal: abort.signal,
        ...(hasBody && !raw ? { body: bodyStream(req, opts.maxBodyBytes), duplex: 'half' } : {}),
      });
      if (raw) {
        // The endpoint's limit, within the server's: past the server's, its own refusal.
        attachRawBody(request, (limit, alloc) =>
          readIncoming(
            req,
            Math.min(limit, opts.maxBodyBytes),
            () => (limit > opts.maxBodyBytes ? bodyTooLarge(opts.maxBodyBytes) : undefined),
            alloc,
          ),
        );
      }
      await sendThenDrain(req, res, await opts.handler(request), opts.maxBodyBytes);
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
