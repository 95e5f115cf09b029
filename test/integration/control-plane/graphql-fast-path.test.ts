// The GraphQL fast path (graphql/fast-path.ts): a document yoga validated once is executed
// directly after that, and every answer — data, a resolver's refusal, a limit, a role refusal,
// variables that do not coerce, a revoked token — is the one yoga gives for the same request.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createSchema, createYoga } from 'graphql-yoga';
import { createMaskError } from '../../../src/control-plane/graphql/errors.js';
import { fastAnswer, ValidatedDocuments } from '../../../src/control-plane/graphql/fast-path.js';
import { createNodeServer } from '../../../src/control-plane/http/node-server.js';
import { parseBody } from '../../../src/control-plane/http/parsed-body.js';
import { DEFAULT_API_LIMITS } from '../../../src/control-plane/limits.js';
import { createLogger } from '../../../src/shared/logger.js';
import { createToken, revokeToken } from '../../../src/control-plane/store/tokens.js';
import { loadedLocation, openHarness, type Harness } from '../../support/control-plane-harness.js';

let dir: string;
let h: Harness;
let agentId: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-fast-path-'));
  h = await openHarness(`sqlite:${join(dir, 'db.sqlite')}`, { limits: { maxResponseBytes: 4096 } });
  agentId = await loadedLocation(h);
});
after(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  type: string | null;
  body: unknown;
}

let served = 0;
async function post(
  api: 'user' | 'agent',
  body: unknown,
  opts: { token?: string; accept?: string } = {},
): Promise<Answer> {
  const token = opts.token ?? (api === 'user' ? h.userToken : h.agentToken);
  const res = await h.handler(
    new Request(`http://127.0.0.1/${api === 'user' ? 'graphql' : 'agent/graphql'}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        ...(opts.accept ? { accept: opts.accept } : {}),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
  served++;
  return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
}

/** The same request twice: the first validates the document in yoga, the second may take the fast path. */
async function twice(api: 'user' | 'agent', body: unknown, opts: { token?: string; accept?: string } = {}) {
  const first = await post(api, body, opts);
  const second = await post(api, body, opts);
  assert.deepEqual(second, first);
  return second;
}

const AGENT_ACCEPT = 'application/graphql-response+json, application/json';

test('a repeated query answers as yoga does, for each Accept the fast path takes', async () => {
  for (const accept of [undefined, 'application/json', AGENT_ACCEPT, 'application/graphql-response+json']) {
    const a = await twice('user', { query: 'query { codeLocations { name status } }' }, { accept });
    assert.equal(a.status, 200);
    assert.deepEqual(a.body, { data: { codeLocations: [{ name: 'hello', status: 'LOADED' }] } });
  }
  const cursor = `query($a: ID!, $r: ID!) { runCursor(agentId: $a, runId: $r) { lastSeq } }`;
  const refused = await twice(
    'agent',
    { query: cursor, variables: { a: agentId, r: 'run_nope' } },
    { accept: AGENT_ACCEPT },
  );
  assert.equal(refused.type, 'application/graphql-response+json; charset=utf-8');
  assert.ok(refused.status >= 400, JSON.stringify(refused));
  const errors = (refused.body as { errors: Array<{ extensions: { code: string; http: number } }> }).errors;
  assert.equal(errors[0]!.extensions.http, refused.status);
});

test('variables that do not coerce, an unknown operation name and a subscription keep yoga answers', async () => {
  const q = `query($id: ID!) { run(id: $id) { id } }`;
  const bad = await twice('user', { query: q, variables: { id: { no: 1 } } });
  assert.equal(bad.status, 400);
  await twice('user', { query: q, variables: { id: 'run_nope' } });
  const named = await twice('user', { query: q, variables: { id: 'x' }, operationName: 'Other' });
  assert.ok(named.status >= 400);
  const unknownKey = await twice('user', { query: q, variables: { id: 'x' }, extra: 1 });
  assert.ok(unknownKey.status >= 400);
});

test('limits and role refusals hold on the fast path', async () => {
  // A large page: the cost limit counts `first` from the variables, so the same text passes once and is refused once.
  const q = `query($n: Int) { runs(first: $n) { nodes { id } } }`;
  const small = await twice('user', { query: q, variables: { n: 1 } });
  assert.equal(small.status, 200);
  const big = await twice('user', { query: q, variables: { n: 1_000_000 } });
  assert.ok(big.status >= 400, JSON.stringify(big));
  // The answer is over maxResponseBytes (4096): refused naming the limit.
  const runs = `query { runs(first: 100) { nodes { id job location status tags createdAt } } }`;
  for (let i = 0; i < 60; i++)
    await post('user', { query: `mutation { launchRun(input: {location: "hello", job: "hello"}) { id } }` });
  const tooLarge = await twice('user', { query: runs });
  assert.match(JSON.stringify(tooLarge.body), /RESPONSE_TOO_LARGE/);
  const viewer = (await createToken(h.store, 'user', 'fast-viewer', { role: 'VIEWER' })).token;
  const launch = { query: `mutation { launchRun(input: {location: "hello", job: "hello"}) { id } }` };
  const denied = await twice('user', launch, { token: viewer });
  assert.equal(denied.status, 403);
  assert.match(JSON.stringify(denied.body), /ROLE_REQUIRED/);
});

test('a token revoked between two requests of the same document is refused', async () => {
  const { id, token } = await createToken(h.store, 'user', 'fast-revoked', { role: 'VIEWER' });
  const me = { query: 'query { me { name } }' };
  assert.equal((await post('user', me, { token })).status, 200);
  assert.equal((await post('user', me, { token })).status, 200);
  await revokeToken(h.store, id);
  const r = await post('user', me, { token });
  assert.equal(r.status, 401);
  assert.ok(served > 0);
});

test('only a document yoga validated without an error is executed by the fast path', async () => {
  const docs = new ValidatedDocuments();
  let calls = 0;
  const schema = createSchema({
    typeDefs: 'type Query { n: Int! }',
    resolvers: { Query: { n: () => ++calls } },
  });
  const yoga = createYoga({ schema, plugins: [docs.plugin()], logging: false });
  const ask = (query: string) =>
    new Request('http://x/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
  const deps = { schema, documents: docs, limits: DEFAULT_API_LIMITS, maskError: createMaskError() };
  const bytes = (query: string) => parseBody(new TextEncoder().encode(JSON.stringify({ query })).buffer);
  const ctx = { request: ask('{ n }') } as never;
  assert.equal(await fastAnswer(deps, ask('{ n }'), bytes('{ n }'), ctx), undefined, 'not validated yet');
  assert.equal((await yoga.fetch(ask('{ n }'))).status, 200);
  const res = await fastAnswer(deps, ask('{ n }'), bytes('{ n }'), ctx);
  assert.ok(res, 'validated once: the fast path answers');
  assert.deepEqual(await res.json(), { data: { n: 2 } });
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
  await yoga.fetch(ask('{ nope }'));
  assert.equal(await fastAnswer(deps, ask('{ nope }'), bytes('{ nope }'), ctx), undefined, 'invalid: yoga answers');
  assert.equal(calls, 2);
});

test('a fast-path answer and a coded refusal leave whole, with a content-length, not chunked', async () => {
  const server = createNodeServer({
    handler: h.handler,
    maxBodyBytes: DEFAULT_API_LIMITS.maxBodyBytes,
    logger: createLogger({ name: 'fast-path', level: 'silent' }),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const ask = (token: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const body = JSON.stringify({ query: 'query { me { name } }' });
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/graphql',
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  try {
    await ask(h.userToken);
    const ok = await ask(h.userToken);
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { data: { me: { name: 'test-user' } } });
    assert.equal(ok.headers['content-length'], String(Buffer.byteLength(ok.body)));
    assert.equal(ok.headers['transfer-encoding'], undefined);
    const refused = await ask('opu_' + 'x'.repeat(43));
    assert.equal(refused.status, 401);
    assert.match(refused.body, /UNAUTHENTICATED/);
    assert.equal(refused.headers['content-length'], String(Buffer.byteLength(refused.body)));
  } finally {
    await new Promise((r) => server.close(r));
  }
});
