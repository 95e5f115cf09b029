// A claim that asks for its launches' run cursors (WorkItem.runCursor, the agent's pre-launch
// check) reads the runs once for all its items, not once per item; runCursors likewise checks
// that the agent holds all its runs in one read, then reads their cursors at once. The reads are
// counted by a Kysely plugin on the real store: every query the API sends goes through it.
// Before (main at 4317245): a claim of 5 launches read `runs` 5 times more than a claim of 1.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SelectQueryNode, TableNode, type KyselyPlugin } from 'kysely';
import { createControlPlaneFetchHandler, type Store } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';
import { loadedLocation, openHarness, type Harness } from '../../support/control-plane-harness.js';

/** The store with each SELECT that reads table `runs` counted. */
function countingRunReads(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const plugin: KyselyPlugin = {
    transformQuery: ({ node }) => {
      const froms = SelectQueryNode.is(node) ? (node.from?.froms ?? []) : [];
      if (froms.some((f) => TableNode.is(f) && f.table.identifier.name === 'runs')) reads++;
      return node;
    },
    transformResult: ({ result }) => Promise.resolve(result),
  };
  const counted = Object.create(store, { db: { value: store.db.withPlugin(plugin) } }) as Store;
  return { store: counted, reads: () => reads };
}

describeEachDialect("a claim's run cursors", (target) => {
  let h: Harness;
  let counted: ReturnType<typeof countingRunReads>;
  let agent: (query: string, variables: Record<string, unknown>) => Promise<Record<string, unknown>>;
  before(async () => {
    h = await openHarness(await target.freshUrl());
    counted = countingRunReads(h.store);
    const handler = createControlPlaneFetchHandler({
      store: counted.store,
      logger: createLogger({ name: 'test', level: 'silent' }),
      web: false,
    });
    agent = async (query, variables) => {
      const res = await handler(
        new Request('http://127.0.0.1/agent/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${h.agentToken}` },
          body: JSON.stringify({ query, variables }),
        }),
      );
      const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown };
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      return body.data!;
    };
  });
  after(() => h.close());

  test('one read of the runs for all the launches of a claim, and of a runCursors call', async () => {
    const agentId = await loadedLocation(h);
    const launch = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = await h.gql('user', `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`);
        assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      }
    };
    /** Reads of `runs` by one claim (with cursors or without), and the claimed launches. */
    const claim = async (cursors: boolean) => {
      const before = counted.reads();
      const data = (await agent(
        `mutation($a: ID!, $c: Boolean!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { kind runId runCursor @include(if: $c) { runId status } } }`,
        { a: agentId, c: cursors },
      )) as { claimWork: { kind: string; runId: string; runCursor?: { runId: string; status: string } }[] };
      return { reads: counted.reads() - before, items: data.claimWork };
    };

    await launch(1);
    const one = await claim(true);
    assert.equal(one.items.length, 1);
    await launch(5);
    const five = await claim(true);
    assert.equal(five.items.length, 5);
    for (const w of five.items) assert.deepEqual(w.runCursor, { runId: w.runId, status: 'QUEUED' });
    await launch(5);
    const none = await claim(false);
    assert.equal(none.items.length, 5);
    assert.equal(five.reads, one.reads, `reads of runs: ${one.reads} for 1 launch, ${five.reads} for 5`);
    assert.equal(five.reads, none.reads + 1, `reads of runs: ${none.reads} without cursors, ${five.reads} with`);

    // runCursors: one ownership read for all its runs, then one read of their cursors, whether
    // it asks for one run or five. Before (main at fb60895): an ownership read per run, 2 for
    // one run and 6 for five.
    const cursors = async (runIds: string[]) => {
      const before = counted.reads();
      const data = (await agent(`query($a: ID!, $r: [ID!]!) { runCursors(agentId: $a, runIds: $r) { runId status } }`, {
        a: agentId,
        r: runIds,
      })) as { runCursors: { runId: string; status: string }[] };
      assert.deepEqual(
        data.runCursors,
        runIds.map((runId) => ({ runId, status: 'QUEUED' })),
      );
      return counted.reads() - before;
    };
    const runIds = five.items.map((w) => w.runId);
    const ofOne = await cursors(runIds.slice(0, 1));
    const ofFive = await cursors(runIds);
    assert.deepEqual([ofOne, ofFive], [2, 2], `reads of runs by runCursors: ${ofOne} for 1 run, ${ofFive} for 5`);
  });
});
