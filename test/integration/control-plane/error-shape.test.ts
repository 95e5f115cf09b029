// One error shape on both APIs, whatever raised it: `{message, extensions: {code: OUTPOST_ERR_…,
// hint, http}}`, nothing else in extensions, and an HTTP status that follows the error when the
// whole answer is a refusal. Through the fetch handler: no socket is needed to see the answer.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadedLocation, openHarness, type Harness } from '../../support/control-plane-harness.js';

let h: Harness;
let runId: string;
before(async () => {
  h = await openHarness(`sqlite:${join(mkdtempSync(join(tmpdir(), 'outpost-errshape-')), 'cp.db')}`);
  await loadedLocation(h);
  const r = await h.gql<{ launchRun: { id: string } }>(
    'user',
    `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`,
  );
  runId = r.data!.launchRun.id;
});
after(() => h.close());

interface Answer {
  status: number;
  errors: { message: string; extensions: Record<string, unknown> }[];
}

async function send(api: 'user' | 'agent', body: string, contentType = 'application/json'): Promise<Answer> {
  const res = await h.handler(
    new Request(`http://127.0.0.1/${api === 'user' ? 'graphql' : 'agent/graphql'}`, {
      method: 'POST',
      headers: {
        'content-type': contentType,
        authorization: `Bearer ${api === 'user' ? h.userToken : h.agentToken}`,
      },
      body,
    }),
  );
  const text = await res.text();
  assert.ok(text.length > 0, `HTTP ${res.status} came with an empty body`);
  assert.match(res.headers.get('content-type') ?? '', /json/);
  const json = JSON.parse(text) as { errors?: Answer['errors'] };
  return { status: res.status, errors: json.errors ?? [] };
}

function assertShape(a: Answer, code: string, http: number): void {
  assert.equal(a.errors.length, 1, JSON.stringify(a.errors));
  const e = a.errors[0]!;
  assert.equal(e.extensions.code, `OUTPOST_ERR_${code}`);
  assert.equal(e.extensions.http, http);
  assert.equal(typeof e.extensions.hint, 'string');
  assert.ok((e.extensions.hint as string).length > 10);
  assert.deepEqual(
    Object.keys(e.extensions).filter((k) => !['code', 'hint', 'http', 'data'].includes(k)),
    [],
    'no other extensions (originalError, stacks) leak',
  );
  assert.equal(a.status, http, 'the HTTP status follows the error');
}

for (const api of ['user', 'agent'] as const) {
  test(`${api} API: malformed JSON is coded, with no originalError`, async () => {
    assertShape(await send(api, '{"query": '), 'BAD_REQUEST', 400);
  });

  test(`${api} API: a text/plain body gets a coded 415, not an empty answer`, async () => {
    assertShape(await send(api, '{ __typename }', 'text/plain'), 'UNSUPPORTED_MEDIA_TYPE', 415);
  });

  test(`${api} API: a validation error is coded and answers 400`, async () => {
    assertShape(await send(api, JSON.stringify({ query: '{ noSuchField }' })), 'BAD_REQUEST', 400);
  });
}

test('a refusal raised in a resolver answers with its own status (403, 404)', async () => {
  const forbidden = await send('agent', JSON.stringify({ query: '{ workspace(agentId: "agent_nope") { name } }' }));
  assertShape(forbidden, 'FORBIDDEN', 403);
  const unknown = await send('user', JSON.stringify({ query: '{ workItem(id: "wi_nope") { id } } ' }));
  assert.equal(unknown.status, 200, 'a missing item is null data, not a refusal');
  const notLoaded = await send(
    'user',
    JSON.stringify({ query: 'mutation { reloadCodeLocation(name: "nope") { name } }' }),
  );
  assertShape(notLoaded, 'UNKNOWN_LOCATION', 404);
});

test('partial success keeps HTTP 200 (data is not null)', async () => {
  const res = await h.handler(
    new Request('http://127.0.0.1/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.userToken}` },
      // `run` is nullable: its failing `events(first: 0)` nulls it, the rest of the answer stands.
      body: JSON.stringify({ query: `{ agents { id } run(id: "${runId}") { events(first: 0) { seq } } }` }),
    }),
  );
  const body = (await res.json()) as { data: Record<string, unknown> | null; errors: unknown[] };
  assert.ok(body.data, 'data is present');
  assert.equal(body.errors.length, 1);
  assert.equal(res.status, 200);
});

test('a garbage `after` cursor is an error, not an empty page', async () => {
  assertShape(
    await send('user', JSON.stringify({ query: '{ runs(after: "garbage") { nodes { id } } }' })),
    'INVALID_ARGUMENT',
    400,
  );
  // A well-formed id that names no run is no cursor either.
  assertShape(
    await send('user', JSON.stringify({ query: '{ runs(after: "run_000000000000000000000000") { nodes { id } } }' })),
    'INVALID_ARGUMENT',
    400,
  );
  // The audit log's cursor too (an entry id; a pruned entry's id still pages on).
  assertShape(
    await send('user', JSON.stringify({ query: '{ auditLog(after: "garbage") { nodes { id } } }' })),
    'INVALID_ARGUMENT',
    400,
  );
});

test('an unknown path answers the same shape', async () => {
  const res = await h.handler(new Request('http://127.0.0.1/nope'));
  assert.equal(res.status, 404);
  const body = (await res.json()) as Answer;
  assert.equal(body.errors[0]!.extensions.code, 'OUTPOST_ERR_NO_ROUTE');
  assert.ok(body.errors[0]!.extensions.hint);
});
