// Every API answer says `Cache-Control: no-store`: a GraphQL answer carries user data (runs,
// configs, logs, a token shown once by createToken), and without the header a shared proxy or the
// browser's disk cache may keep it. Checked on each kind of answer the handler makes: the fast
// path, yoga's path (a GET query, a subscription stream), coded refusals (401, 400, 404) and the
// agent API's GraphQL and raw-body endpoints.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeEachDialect } from '../../support/storage.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';

const URL_BASE = 'http://127.0.0.1';

describeEachDialect('Cache-Control on API answers', (target) => {
  let h: Harness;
  before(async () => {
    h = await openHarness(await target.freshUrl());
  });
  after(() => h.close());

  const post = (path: string, body: string, token: string | null, type = 'application/json') =>
    h.handler(
      new Request(`${URL_BASE}${path}`, {
        method: 'POST',
        headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
      }),
    );

  test('user and agent GraphQL answers, refusals and uploads are no-store', async () => {
    const created = JSON.stringify({ query: 'mutation { createToken(kind: USER, name: "shown-once") { token } }' });
    const params = new URLSearchParams({ query: '{ runs(first: 1) { nodes { id } } }' });
    const stream = new URLSearchParams({
      query: 'subscription($r: ID!) { runEvents(runId: $r) { seq } }',
      variables: JSON.stringify({ r: 'run_unknown' }),
    });
    const cases: [string, () => Promise<Response>][] = [
      ['createToken (shows a token)', () => post('/graphql', created, h.userToken)],
      ['a query, fast path', () => post('/graphql', JSON.stringify({ query: '{ agents { id } }' }), h.userToken)],
      [
        'a GET query (yoga)',
        () =>
          h.handler(
            new Request(`${URL_BASE}/graphql?${params}`, {
              headers: { accept: 'application/json', authorization: `Bearer ${h.userToken}` },
            }),
          ),
      ],
      [
        'a subscription stream',
        () =>
          h.handler(
            new Request(`${URL_BASE}/graphql?${stream}`, {
              headers: { accept: 'text/event-stream', authorization: `Bearer ${h.userToken}` },
            }),
          ),
      ],
      ['no token (401)', () => post('/graphql', JSON.stringify({ query: '{ agents { id } }' }), null)],
      ['malformed GraphQL (400)', () => post('/graphql', JSON.stringify({ query: '{' }), h.userToken)],
      ['an unknown path (404)', () => h.handler(new Request(`${URL_BASE}/nowhere`))],
      ['agent API', () => post('/agent/graphql', JSON.stringify({ query: '{ workspace { name } }' }), h.agentToken)],
      [
        'agent log upload',
        () =>
          post('/agent/logs?agentId=a&runId=r&stream=stdout&offset=0', 'x', h.agentToken, 'application/octet-stream'),
      ],
      ['metrics', () => h.handler(new Request(`${URL_BASE}/metrics`))],
    ];
    for (const [name, call] of cases) {
      const res = await call();
      await res.text(); // read whole: a stream cancelled before its first chunk trips yoga
      assert.equal(res.headers.get('cache-control'), 'no-store', `${name} (status ${res.status})`);
    }
  });
});
