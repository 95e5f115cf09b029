// A partitionNames search answered by an agent from before search: it ignores `search` and
// answers a plain page (no `search` in it), so the control plane filters that page itself, as
// the agent's own search would have (case-insensitively), and marks it `searchedPage`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { queryCodeLocation } from '../../../src/control-plane/services/query-location.js';
import { describeEachDialect } from '../../support/storage.js';
import { loadedLocation, openHarness, type Harness } from '../../support/control-plane-harness.js';

describeEachDialect('a search answered by an agent from before search', (target) => {
  let h: Harness;
  before(async () => {
    h = await openHarness(await target.freshUrl());
  });
  after(() => h.close());

  test('its page is filtered here and marked searchedPage', async () => {
    const agentId = await loadedLocation(h);
    const asked = queryCodeLocation(
      h.store,
      { location: 'hello', job: 'hello', query: 'partitionNames', search: 'EU' },
      10_000,
    );
    let itemId: string | undefined;
    for (let i = 0; i < 100 && !itemId; i++) {
      const r = await h.gql<{ claimWork: { id: string; kind: string }[] }>(
        'agent',
        `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 100) { id kind } }`,
        { a: agentId },
      );
      itemId = r.data?.claimWork.find((w) => w.kind === 'QUERY_CODE_LOCATION')?.id;
    }
    assert.ok(itemId, 'the question reached the agent');
    // The older agent's answer: the first page of all keys, without `search`.
    const answer = { keys: ['eu-west', 'us-east', 'Europe', 7, 'asia'], offset: 0, total: 5 };
    const done = await h.gql(
      'agent',
      `mutation($a: ID!, $id: ID!, $r: JSON!) { completeWork(agentId: $a, id: $id, result: $r) { id } }`,
      { a: agentId, id: itemId, r: { answer } },
    );
    assert.equal(done.errors, undefined, JSON.stringify(done.errors));
    const item = await asked;
    assert.equal(item.status, 'COMPLETED');
    assert.deepEqual(item.result, {
      answer: { keys: ['eu-west', 'Europe'], offset: 0, total: 5, search: 'EU', searchedPage: true },
    });
  });
});
