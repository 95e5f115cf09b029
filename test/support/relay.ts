// A plain HTTP relay on 127.0.0.1 in front of a real control plane: a test sees each request the
// agent's client sends (whole body in hand) and forwards it, rewritten or not, or answers it
// itself (as a misbehaving proxy, or a control plane from before some endpoint).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the relay does with one request: return the body to forward (as read, or rewritten), or
 * undefined once it has answered (or left unanswered) the request itself.
 */
export type RelayStep = (
  req: IncomingMessage,
  body: Buffer<ArrayBuffer>,
  res: ServerResponse,
) => Buffer<ArrayBuffer> | undefined;

export interface Relay {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Forwards `body` to `target` with the request's method, path, content type and token. */
export function forwardTo(target: string, req: IncomingMessage, res: ServerResponse, body: Buffer<ArrayBuffer>): void {
  fetch(`${target}${req.url}`, {
    method: req.method!,
    headers: {
      'content-type': req.headers['content-type'] ?? 'application/json',
      authorization: req.headers.authorization ?? '',
    },
    body,
  })
    .then(async (r) => {
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await r.arrayBuffer()));
    })
    .catch(() => req.socket.destroy());
}

export async function startRelay(target: string, step: RelayStep): Promise<Relay> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = step(req, Buffer.concat(chunks), res);
      if (body) forwardTo(target, req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The first field of a GraphQL request body (`{ field(` or `mutation { field(`), or '?'. */
export function firstField(body: Buffer): string {
  const query = (JSON.parse(body.toString() || '{}') as { query?: string }).query ?? '';
  return /\{\s*(\w+)\s*\(/.exec(query)?.[1] ?? '?';
}
