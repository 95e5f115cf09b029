// A user token of any role could send requests as fast as the server answered, each mutation in
// them (a refused one too) writing an audit row: the audit table grew at the caller's rate.
// Each token now has a bucket (http/request-budget.ts): a request takes a unit, each mutation
// in it one more; an empty bucket answers RATE_LIMITED (429, Retry-After) and writes no audit
// row. A web UI sign-in with the token takes a unit too (each opened a session row, unlimited).
// Tokens do not share a bucket, and the agent API is exempt. The bucket's clock is a
// manual one here: the test moves it, nothing is timed. SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Store, createControlPlaneFetchHandler, type FetchHandler } from '../../../src/control-plane/index.js';
import { createToken } from '../../../src/control-plane/store/tokens.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';

const RATE = 2;
const BURST = 3;

interface Answer {
  status: number;
  retryAfter: string | null;
  body: { data?: unknown; errors?: { extensions: { code: string; data?: Record<string, unknown> } }[] };
}

describeEachDialect('per-token request rate', (target) => {
  let store: Store;
  let handler: FetchHandler;
  let clock = 0;
  let viewer: string;
  let other: string;
  let agent: string;
  before(async () => {
    store = await Store.open({ url: await target.freshUrl() });
    handler = createControlPlaneFetchHandler({
      store,
      logger: createLogger({ name: 'test', level: 'silent' }),
      limits: { maxRequestsPerSecondPerToken: RATE, maxRequestBurstPerToken: BURST },
      monotonicClock: () => clock,
      web: {},
    });
    viewer = (await createToken(store, 'user', 'viewer', { role: 'VIEWER' })).token;
    other = (await createToken(store, 'user', 'other', { role: 'VIEWER' })).token;
    agent = (await createToken(store, 'agent', 'agent')).token;
  });
  after(() => store.close());

  const post = async (token: string, query: string, api = 'graphql'): Promise<Answer> => {
    const res = await handler(
      new Request(`http://127.0.0.1/${api}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query }),
      }),
    );
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as Answer['body'],
    };
  };
  const auditRows = async () =>
    Number(
      (
        await store.db
          .selectFrom('audit_log')
          .select((e) => e.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const refill = () => (clock += (BURST / RATE) * 1000);

  test('a token past its burst is refused 429 with Retry-After until its bucket refills; others are not', async () => {
    refill();
    for (let i = 0; i < BURST; i++)
      assert.equal((await post(viewer, '{ agents { id } }')).status, 200, `request ${i + 1}`);
    const refused = await post(viewer, '{ agents { id } }');
    assert.equal(refused.status, 429);
    assert.equal(refused.retryAfter, '1');
    assert.equal(refused.body.errors?.[0]?.extensions.code, 'OUTPOST_ERR_RATE_LIMITED');
    assert.deepEqual(refused.body.errors?.[0]?.extensions.data, {
      limit: 'maxRequestsPerSecondPerToken',
      value: RATE,
      burst: BURST,
      retryAfterSeconds: 1,
    });
    assert.equal((await post(other, '{ agents { id } }')).status, 200, 'another token has its own bucket');
    clock += 1000 / RATE;
    assert.equal((await post(viewer, '{ agents { id } }')).status, 200, 'a unit came back');
    assert.equal((await post(viewer, '{ agents { id } }')).status, 429);
  });

  test('each mutation takes a unit: aliased mutations past the bucket are refused without audit rows', async () => {
    refill();
    const before = await auditRows();
    // A VIEWER may ask for sign-in links, each an audit row (and a stored code): the request
    // takes one unit, the first two links one each, and the third finds none.
    const res = await post(
      viewer,
      'mutation { a: createSignInLink { expiresAt } b: createSignInLink { expiresAt } c: createSignInLink { expiresAt } }',
    );
    assert.deepEqual(
      res.body.errors?.map((e) => e.extensions.code),
      ['OUTPOST_ERR_RATE_LIMITED'],
    );
    assert.equal((await auditRows()) - before, 2, 'two links were made and audited, the third neither');
    const refused = await post(viewer, 'mutation { createSignInLink { expiresAt } }');
    assert.equal(refused.status, 429);
    assert.equal((await auditRows()) - before, 2, 'a rate-limited request writes no audit row');
  });

  test('a sign-in with a token takes a unit of its bucket: past it 429, and no session is opened', async () => {
    refill();
    const sessions = async () =>
      Number(
        (
          await store.db
            .selectFrom('sessions')
            .select((e) => e.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const signIn = () =>
      handler(
        new Request('http://127.0.0.1/signin', {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://127.0.0.1' },
          body: new URLSearchParams({ token: viewer }).toString(),
        }),
      );
    const before = await sessions();
    for (let i = 0; i < BURST; i++) assert.equal((await signIn()).status, 303, `sign-in ${i + 1}`);
    const refused = await signIn();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    const body = (await refused.json()) as Answer['body'];
    assert.equal(body.errors?.[0]?.extensions.code, 'OUTPOST_ERR_RATE_LIMITED');
    assert.equal((await sessions()) - before, BURST, 'the refused sign-in opened no session');
    assert.equal((await post(viewer, '{ agents { id } }')).status, 429, 'sign-ins and requests share the bucket');
  });

  test('the agent API is exempt', async () => {
    for (let i = 0; i < BURST * 3; i++) {
      const res = await post(agent, '{ __typename }', 'agent/graphql');
      assert.equal(res.status, 200, `agent request ${i + 1}: ${JSON.stringify(res.body.errors)}`);
    }
  });
});
