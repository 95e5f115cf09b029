// A work item's failure (failWork's code and message) is an agent's words, and may quote user
// code: a failed launch's is shown as its run's ENGINE event. Each is kept to its fixed limit
// (maxFailureMessageLength, maxFailureCodeLength), the cut saying so and naming the limit.
// Before, a 2 MB message was stored whole twice (the item, the event) and sent on every read
// of the run's events. Through the agent API, on SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FIXED_INPUT_LIMITS } from '../../../src/control-plane/limits.js';
import { getWorkItem } from '../../../src/control-plane/store/work-items.js';
import { loadedLocation, openHarness, type Harness } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

const L = FIXED_INPUT_LIMITS;

describeEachDialect('failure message limit', (target) => {
  let h: Harness;
  let agentId: string;
  before(async () => {
    h = await openHarness(await target.freshUrl());
    agentId = await loadedLocation(h);
  });
  after(() => h.close());

  test("a failed launch's message and code past their limits are cut, the cut naming the limit", async () => {
    const launched = await h.gql<{ launchRun: { id: string } }>(
      'user',
      `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`,
    );
    const runId = launched.data!.launchRun.id;
    const claimed = await h.gql<{ claimWork: { id: string; kind: string }[] }>(
      'agent',
      `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { id kind } }`,
      { a: agentId },
    );
    const item = claimed.data!.claimWork.find((w) => w.kind === 'LAUNCH_RUN')!;
    const failed = await h.gql(
      'agent',
      `mutation($a: ID!, $i: ID!, $e: WorkErrorInput!) { failWork(agentId: $a, id: $i, error: $e) { status } }`,
      { a: agentId, i: item.id, e: { code: `OUTPOST_ERR_${'C'.repeat(10_000)}`, message: 'm'.repeat(2_000_000) } },
    );
    assert.equal(failed.errors, undefined);

    const stored = (await getWorkItem(h.store.db, item.id))!;
    assert.equal(stored.status, 'FAILED');
    const { code, message } = stored.error!;
    assert.ok(code.length <= L.maxFailureCodeLength, `kept a ${code.length}-character code`);
    assert.match(code, /maxFailureCodeLength/);
    assert.ok(message.length <= L.maxFailureMessageLength, `kept ${message.length} characters`);
    assert.match(message, /^m{100}/);
    assert.match(message, /maxFailureMessageLength/);
    // The count it names is what was cut: kept plus cut is what was sent.
    const kept = /^m*/.exec(message)![0].length;
    assert.equal(kept + Number(/… (\d+) more characters cut/.exec(message)?.[1]), 2_000_000);

    const events = await h.gql<{ run: { status: string; events: { type: string; message: string }[] } }>(
      'user',
      `query($r: ID!) { run(id: $r) { status events { type message } } }`,
      { r: runId },
    );
    assert.equal(events.data!.run.status, 'FAILURE');
    const engine = events.data!.run.events.find((e) => e.type === 'ENGINE')!;
    assert.match(engine.message, /^launch failed: /);
    assert.ok(
      engine.message.length <= L.maxFailureCodeLength + L.maxFailureMessageLength + 40,
      `the ENGINE event has ${engine.message.length} characters`,
    );
  });
});
