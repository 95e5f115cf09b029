// One request could carry as many aliased mutations as the field limit allowed (499): a VIEWER
// made 250 sign-in codes and 250 audit rows with one POST, a LAUNCHER as many runs, and
// queryCodeLocation's waits ran one after another (up to maxWaitMs each). A mutation operation
// with more than maxMutationsPerRequest root fields (aliases and fragments counted) is now
// refused before anything runs: 400 QUERY_TOO_COSTLY naming the limit, no row, no audit row.
// Through the fetch handler, both dialects; each document is sent twice (the second time a
// document yoga already validated may take the fast path, which must refuse it too).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Store, createControlPlaneFetchHandler, type FetchHandler } from '../../../src/control-plane/index.js';
import { DEFAULT_API_LIMITS } from '../../../src/control-plane/limits.js';
import { createToken } from '../../../src/control-plane/store/tokens.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';

interface Answer {
  status: number;
  body: {
    data?: Record<string, unknown>;
    errors?: { message: string; extensions: { code: string; data?: unknown } }[];
  };
}

const links = (n: number, prefix = 'l') =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}: createSignInLink { expiresAt }`).join(' ');

describeEachDialect('mutations per request', (target) => {
  let store: Store;
  let strict: FetchHandler;
  let defaults: FetchHandler;
  let viewer: string;
  let launcher: string;
  before(async () => {
    store = await Store.open({ url: await target.freshUrl() });
    const logger = createLogger({ name: 'test', level: 'silent' });
    strict = createControlPlaneFetchHandler({ store, logger, limits: { maxMutationsPerRequest: 3 } });
    defaults = createControlPlaneFetchHandler({ store, logger });
    viewer = (await createToken(store, 'user', 'viewer', { role: 'VIEWER' })).token;
    launcher = (await createToken(store, 'user', 'launcher', { role: 'LAUNCHER' })).token;
  });
  after(() => store.close());

  const post = async (handler: FetchHandler, token: string, query: string, variables = {}): Promise<Answer> => {
    const res = await handler(
      new Request('http://127.0.0.1/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      }),
    );
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  };
  const count = async (table: 'audit_log' | 'signin_codes' | 'runs' | 'work_items') =>
    Number(
      (
        await store.db
          .selectFrom(table)
          .select((e) => e.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const rows = async () => [
    await count('audit_log'),
    await count('signin_codes'),
    await count('runs'),
    await count('work_items'),
  ];

  async function refused(handler: FetchHandler, token: string, query: string, limit: number, vars = {}) {
    const before = await rows();
    for (const attempt of [1, 2]) {
      const res = await post(handler, token, query, vars);
      assert.equal(res.status, 400, `attempt ${attempt}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.data, undefined);
      const e = res.body.errors?.[0];
      assert.equal(e?.extensions.code, 'OUTPOST_ERR_QUERY_TOO_COSTLY');
      assert.deepEqual(e?.extensions.data, { limit: 'maxMutationsPerRequest', value: limit });
      assert.match(e.message, new RegExp(`the limit maxMutationsPerRequest is ${limit}`));
      assert.match(e.message, /OUTPOST_MAX_MUTATIONS_PER_REQUEST/);
    }
    assert.deepEqual(await rows(), before, 'a refused request wrote a row');
  }

  test('250 aliased sign-in links (a VIEWER) are refused whole under the default limit', async () => {
    await refused(defaults, viewer, `mutation { ${links(250)} }`, DEFAULT_API_LIMITS.maxMutationsPerRequest);
  });

  test('aliases in fragments and inline fragments count; __typename does not', async () => {
    await refused(
      strict,
      viewer,
      `mutation { ...F ... on Mutation { b: createSignInLink { expiresAt } } } fragment F on Mutation { ${links(3)} }`,
      3,
    );
    await refused(
      strict,
      viewer,
      `mutation { ${links(2)} ...F ...F } fragment F on Mutation { x: createSignInLink { expiresAt } }`,
      3,
    );
    const before = await rows();
    const ok = await post(strict, viewer, `mutation { __typename ${links(3)} }`);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(Object.keys(ok.body.data!).length, 4);
    const after = await rows();
    assert.deepEqual([after[0]! - before[0]!, after[1]! - before[1]!], [3, 3], 'three links, three audit rows');
  });

  test('aliased launches of a LAUNCHER make no run when over the limit', async () => {
    const launches = Array.from(
      { length: 4 },
      (_, i) => `r${i}: launchRun(input: { location: "nowhere", job: "x" }) { id }`,
    ).join(' ');
    await refused(strict, launcher, `mutation { ${launches} }`, 3);
  });

  test('queries are not mutations: many aliased reads stay within the field limits only', async () => {
    const reads = Array.from({ length: 20 }, (_, i) => `m${i}: me { name }`).join(' ');
    const res = await post(strict, viewer, `{ ${reads} }`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
});
