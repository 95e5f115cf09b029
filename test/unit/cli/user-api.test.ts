// The CLI's GraphQL client (also what `outpost dev` keeps for its lifetime) over node:http:
// the bearer token and the JSON body reach the server, GraphQL errors and HTTP statuses become
// coded errors, a closed port says the control plane is unavailable, and fetch is never used
// (its undici held ~10 MB more in the idle `outpost dev` supervisor).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { userApi } from '../../../src/cli/client.js';
import { freePort } from '../../../src/shared/net.js';

const TOKEN = 'user-token-for-the-client-test';
let server: Server;
let url: string;
const seen: { auth?: string; body?: unknown }[] = [];

async function bodyOf(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

before(async () => {
  server = createServer((req, res) => {
    void bodyOf(req).then((text) => {
      const body = JSON.parse(text) as { query: string };
      seen.push({ auth: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      if (body.query.includes('forbidden')) res.statusCode = 403;
      if (body.query.includes('coded')) {
        res.end(
          JSON.stringify({ errors: [{ message: 'no', extensions: { code: 'OUTPOST_ERR_NOT_FOUND', hint: 'h' } }] }),
        );
      } else res.end(JSON.stringify({ data: { echo: body.query } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('requests carry the token and the JSON body, answers and errors come back coded, without fetch', async () => {
  const realFetch = globalThis.fetch;
  globalThis.fetch = () => Promise.reject(new Error('the client used fetch'));
  try {
    // resolveTarget reads OUTPOST_TOKEN when no token file is given.
    process.env.OUTPOST_TOKEN = TOKEN;
    const api = userApi({ url, dataDir: '/nonexistent' });
    assert.deepEqual(await api.request<{ echo: string }>('{ hello }', { a: 1 }), { echo: '{ hello }' });
    assert.deepEqual(seen.at(-1), { auth: `Bearer ${TOKEN}`, body: { query: '{ hello }', variables: { a: 1 } } });
    await assert.rejects(api.request('{ coded }'), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'OUTPOST_ERR_NOT_FOUND');
      assert.equal(err.hint, 'h');
      return true;
    });
    await assert.rejects(api.request('{ forbidden }'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'OUTPOST_ERR_FORBIDDEN');
      return true;
    });
    const closed = userApi({ url: `http://127.0.0.1:${await freePort()}`, dataDir: '/nonexistent' });
    await assert.rejects(closed.request('{ hello }'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE');
      return true;
    });
  } finally {
    globalThis.fetch = realFetch;
  }
});
