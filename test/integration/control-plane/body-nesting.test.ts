// A user-API body nested a million deep (a variable the query never reads will do) held the
// control plane's event loop inside JSON.parse for seconds per request (5.2 s of CPU for
// 15 MiB, a concurrent /healthz waiting all along; /graphql bodies now stop at 1 MiB), for a
// token of any role. The body's nesting is read from its bytes first: past maxBodyNesting it is refused, coded and naming the limit,
// before anything parses it. Brackets inside strings do not count. SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FIXED_INPUT_LIMITS } from '../../../src/control-plane/limits.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

const MAX = FIXED_INPUT_LIMITS.maxBodyNesting;

describeEachDialect('user-API body nesting', (target) => {
  let h: Harness;
  before(async () => {
    h = await openHarness(await target.freshUrl());
  });
  after(() => h.close());

  const post = async (body: string) => {
    const res = await h.handler(
      new Request('http://127.0.0.1/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${h.userToken}` },
        body,
      }),
    );
    return {
      status: res.status,
      body: (await res.json()) as { data?: unknown; errors?: { extensions: { code: string; data?: unknown } }[] },
    };
  };
  const withVariable = (x: string) => `{"query":"{ agents { id } }","variables":{"x":${x}}}`;
  const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);

  test('a body nested past maxBodyNesting is refused before it is parsed, naming the limit', async () => {
    for (const depth of [MAX, 400_000]) {
      const res = await post(withVariable(nested(depth)));
      assert.equal(res.status, 400, `nested ${depth} deep`);
      assert.equal(res.body.errors?.[0]?.extensions.code, 'OUTPOST_ERR_JSON_TOO_DEEP');
      assert.deepEqual(res.body.errors?.[0]?.extensions.data, { limit: 'maxBodyNesting', value: MAX });
    }
  });

  test('a maxJsonDepth value, and brackets inside strings, pass', async () => {
    const deepest = await post(withVariable(nested(FIXED_INPUT_LIMITS.maxJsonDepth)));
    assert.equal(deepest.status, 200);
    assert.deepEqual(deepest.body.data, { agents: [] });
    const quoted = await post(withVariable(JSON.stringify({ s: `${'['.repeat(10_000)}"\\{`, t: '\\"[' })));
    assert.equal(quoted.status, 200);
    assert.deepEqual(quoted.body.data, { agents: [] });
  });
});
