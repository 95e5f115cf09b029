// Bodies are read only after authentication, and only up to the limit: on a real socket, an
// unauthenticated POST is answered 401 while its client is still sending (before the fix the
// server buffered the whole 16 MiB first), and an authenticated one over the limit gets its
// coded 413 as soon as the limit is crossed, without the client finishing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';

/** Each API's body limit (maxUserBodyBytes, maxBodyBytes) by path. */
const LIMITS = { '/graphql': 1024 * 1024, '/agent/graphql': 16 * 1024 * 1024 } as const;
let dir: string;
let cp: ControlPlane;
let userToken: string;
let agentToken: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-body-'));
  cp = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'cp.db')}`,
    port: 0,
    daemon: false,
    web: false,
    logger: createLogger({ name: 'body', level: 'silent' }),
  });
  userToken = await cp.issueToken('user', 'body');
  agentToken = await cp.issueToken('agent', 'body');
});
after(async () => {
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Starts a POST, sends `sendBytes` of its body and never finishes it; resolves with the answer
 * (status and body) if one comes within 5 s while the body is still incomplete.
 */
function partialPost(
  path: string,
  headers: Record<string, string>,
  sendBytes: number,
): Promise<{ status: number; text: string; sent: number }> {
  const url = new URL(cp.url + path);
  return new Promise((resolve, reject) => {
    let sent = 0;
    const req = request({ host: url.hostname, port: url.port, path, method: 'POST', headers });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within 5 s after sending ${sent} bytes (the server waits for the body)`));
    }, 5_000);
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, text, sent });
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = (): void => {
      while (sent < sendBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

for (const [what, auth] of [
  ['no token', {}],
  ['an unknown token', { authorization: 'Bearer opu_not-a-real-token-0000000000000000000000000' }],
] as const) {
  for (const [path, limit] of Object.entries(LIMITS)) {
    test(`${path} with ${what} is refused 401 before its body is read`, async () => {
      const r = await partialPost(
        path,
        { 'content-type': 'application/json', 'content-length': String(limit), ...auth },
        256 * 1024,
      );
      assert.equal(r.status, 401);
      const body = JSON.parse(r.text) as { errors: { extensions: { code: string } }[] };
      assert.equal(body.errors[0]!.extensions.code, 'OUTPOST_ERR_UNAUTHENTICATED');
      assert.ok(r.sent < limit, 'answered while the client was still sending');
    });
  }
}

for (const [path, limit, name] of [
  ['/graphql', LIMITS['/graphql'], 'maxUserBodyBytes'],
  ['/agent/graphql', LIMITS['/agent/graphql'], 'maxBodyBytes'],
] as const) {
  test(`${path}: an authenticated chunked body is cut at the limit with a coded 413`, async () => {
    const token = path === '/graphql' ? userToken : agentToken;
    const r = await partialPost(
      path,
      { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      limit + 512 * 1024,
    );
    assert.equal(r.status, 413);
    assert.match(r.text, /OUTPOST_ERR_BODY_TOO_LARGE/);
    assert.match(r.text, new RegExp(`the limit ${name} is ${limit}`));
  });
}

test('after refusals the server still answers normal requests', async () => {
  const res = await fetch(`${cp.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${userToken}` },
    body: JSON.stringify({ query: '{ agents { id } }' }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { data: { agents: [] } });
});
