// The work queue on SQLite and PostgreSQL: no double claims under concurrency (two store
// instances = two replicas), lease expiry and re-claim, max attempts, dedupe keys, long-poll
// wake-ups, and idempotent ack/complete/fail.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Store } from '../../../src/control-plane/store/store.js';
import { enqueueWork, getWorkItem } from '../../../src/control-plane/store/work-items.js';
import { ackWork, ackWorkBatch } from '../../../src/control-plane/store/work-queue.js';
import { claimWork, completeWork, expireLeases, failWork } from '../../../src/control-plane/services/work-service.js';
import { getRun } from '../../../src/control-plane/store/runs.js';
import { reportCodeLocation, writeLocationVersion } from '../../../src/control-plane/store/locations.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { describeEachDialect } from '../../support/storage.js';
import { workItemWorkflowId } from '../../../src/shared/workflow-contract.js';

describeEachDialect('work queue', (target) => {
  let a: Store;
  let b: Store;
  const clock = { now: 1_000_000 };
  before(async () => {
    const url = await target.freshUrl();
    const opts = { url, clock: () => clock.now, limits: { leaseMs: 1_000, maxAttempts: 2 } };
    a = await Store.open(opts);
    b = await Store.open(opts);
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  const sensorItem = (n: number, dedupeKey?: string) =>
    enqueueWork(a, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'loc', sensor: `s${n}`, cursor: null },
      ...(dedupeKey ? { dedupeKey } : {}),
    });

  test('concurrent claimers on two replicas never get the same item', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 60; i++) ids.add((await sensorItem(i)).item.id);
    const claimed: string[] = [];
    await Promise.all(
      Array.from({ length: 6 }, async (_, w) => {
        const store = w % 2 ? b : a;
        for (let round = 0; round < 30; round++) {
          const got = await claimWork(store, { agentId: `agent-${w}`, limit: 4, waitMs: 0 });
          if (!got.length) return;
          for (const item of got) {
            assert.equal(item.status, 'CLAIMED');
            assert.equal(item.leaseOwner, `agent-${w}`);
            claimed.push(item.id);
          }
        }
      }),
    );
    assert.equal(claimed.length, 60, 'every item claimed exactly once');
    assert.equal(new Set(claimed).size, 60, 'no item claimed twice');
    assert.deepEqual(new Set(claimed), ids);
    // Finish them so later tests start from an empty queue.
    for (const id of claimed) await completeWork(a, 'x', id, { runRequests: [] });
  });

  test('an expired lease returns the item; the new holder owns it; attempts are counted; then it fails', async () => {
    const { item } = await sensorItem(100);
    const [first] = await claimWork(a, { agentId: 'A', limit: 1, waitMs: 0 });
    assert.equal(first?.id, item.id);
    assert.equal(first.attempts, 1);
    assert.deepEqual(await claimWork(b, { agentId: 'B', limit: 1, waitMs: 0 }), [], 'lease still held');

    clock.now += 1_001;
    // Lapsed and re-queued: no longer A's, so A's late ack is refused and changes nothing.
    await expireLeases(a);
    await assert.rejects(ackWork(a, 'A', item.id, workItemWorkflowId(item.id)), (e: unknown) =>
      isOutpostError(e, 'WORK_ITEM_NOT_OWNED'),
    );
    assert.equal((await getWorkItem(a.db, item.id))?.status, 'QUEUED');
    const [again] = await claimWork(b, { agentId: 'B', limit: 1, waitMs: 0 });
    assert.equal(again?.id, item.id);
    assert.equal(again.attempts, 2);
    assert.equal(again.leaseOwner, 'B');
    await assert.rejects(ackWork(a, 'A', item.id, 'wi-x'), (e: unknown) => isOutpostError(e, 'WORK_ITEM_NOT_OWNED'));
    // The holder itself must name the workflow id derived from the item.
    await assert.rejects(ackWork(a, 'B', item.id, 'wi-x'), (e: unknown) => isOutpostError(e, 'INVALID_ARGUMENT'));
    assert.equal((await getWorkItem(a.db, item.id))?.status, 'CLAIMED');

    clock.now += 1_001;
    await expireLeases(a);
    const failed = await getWorkItem(a.db, item.id);
    assert.equal(failed?.status, 'FAILED');
    assert.equal(failed.error?.code, 'OUTPOST_ERR_WORK_ITEM_EXHAUSTED');
    assert.match(failed.error.message, /2 of 2 attempts/);
    assert.deepEqual(await claimWork(a, { agentId: 'A', limit: 5, waitMs: 0 }), []);
  });

  test('an exhausted LAUNCH_RUN fails its run with an ENGINE event', async () => {
    const { run, launch } = await a.transaction((trx) =>
      createRun(trx, a, { location: 'loc', job: 'j', runConfig: {}, tags: {} }),
    );
    for (let i = 0; i < 2; i++) {
      const [c] = await claimWork(a, { agentId: 'A', limit: 1, waitMs: 0 });
      assert.equal(c?.id, launch?.id);
      clock.now += 1_001;
    }
    await expireLeases(b);
    const after = await getRun(a.db, run.id);
    assert.equal(after?.status, 'FAILURE');
    const ev = await a.db.selectFrom('run_events').selectAll().where('run_id', '=', run.id).execute();
    assert.equal(ev.length, 1);
    assert.match(ev[0]!.message ?? '', /WORK_ITEM_EXHAUSTED/);
  });

  test('dedupe keys: a second enqueue returns the first item and adds nothing', async () => {
    const one = await sensorItem(200, 'sensor:loc:s200:123');
    const two = await sensorItem(201, 'sensor:loc:s200:123');
    assert.equal(one.created, true);
    assert.equal(two.created, false);
    assert.equal(two.item.id, one.item.id);
    assert.equal(two.item.payload.sensor, 's200');
    const n = await a.db
      .selectFrom('work_items')
      .select('id')
      .where('dedupe_key', '=', 'sensor:loc:s200:123')
      .execute();
    assert.equal(n.length, 1);
    const [c] = await claimWork(a, { agentId: 'A', limit: 5, waitMs: 0 });
    await completeWork(a, 'A', c!.id, { runRequests: [] });
  });

  test('a waiting claim returns the item enqueued on another replica', async () => {
    const waiting = claimWork(a, { agentId: 'A', limit: 1, waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    const { item } = await enqueueWork(b, { kind: 'TERMINATE_RUN', payload: { runId: 'run_x' } });
    const got = await waiting;
    assert.deepEqual(
      got.map((g) => g.id),
      [item.id],
    );
    await completeWork(a, 'A', item.id, { acknowledged: true });
  });

  test('a waiting claim whose client went away claims nothing: a lease that lapsed meanwhile is left to the next claimer', async () => {
    const { item } = await sensorItem(300);
    const [held] = await claimWork(b, { agentId: 'B', limit: 1, waitMs: 0 });
    assert.equal(held?.id, item.id);
    const gone = new AbortController();
    const waiting = claimWork(a, { agentId: 'A', limit: 1, waitMs: 10_000, signal: gone.signal });
    await new Promise((r) => setTimeout(r, 50));
    clock.now += 1_001; // B's lease lapses while A waits; nothing wakes A but its client leaving.
    gone.abort();
    assert.deepEqual(await waiting, [], 'nothing claimed for an answer nobody reads');
    const [next] = await claimWork(b, { agentId: 'C', limit: 1, waitMs: 0 });
    assert.equal(next?.id, item.id, 'the lapsed item goes to the next live claimer');
    assert.equal(next.leaseOwner, 'C');
    await completeWork(a, 'C', item.id, { runRequests: [] });
  });

  test('a claim whose client is already gone still applies the acks it carries, and claims nothing', async () => {
    const { item: started } = await sensorItem(301);
    const { item: queued } = await sensorItem(302);
    const [mine] = await claimWork(a, { agentId: 'A', limit: 1, waitMs: 0 });
    assert.equal(mine?.id, started.id);
    const gone = new AbortController();
    gone.abort();
    const got = await claimWork(a, {
      agentId: 'A',
      limit: 5,
      waitMs: 0,
      signal: gone.signal,
      acks: [{ id: started.id, workflowId: workItemWorkflowId(started.id) }],
    });
    assert.deepEqual(got, []);
    assert.equal((await getWorkItem(a.db, started.id))?.status, 'ACKED');
    assert.equal((await getWorkItem(a.db, queued.id))?.status, 'QUEUED');
    const [c] = await claimWork(a, { agentId: 'A', limit: 5, waitMs: 0 });
    assert.equal(c?.id, queued.id);
    await completeWork(a, 'A', started.id, { runRequests: [] });
    await completeWork(a, 'A', queued.id, { runRequests: [] });
  });

  test('a claim whose client goes away while its pass is claiming gives the items back, their attempt not counted', async () => {
    const { item } = await sensorItem(303);
    const gone = new AbortController();
    // The pass is under way (its claim awaits the database) when the client leaves.
    const claiming = claimWork(a, { agentId: 'A', limit: 5, waitMs: 0, signal: gone.signal });
    gone.abort();
    assert.deepEqual(await claiming, [], 'nothing handed to a client that is gone');
    const back = await getWorkItem(a.db, item.id);
    assert.deepEqual([back?.status, back?.leaseOwner, back?.attempts], ['QUEUED', null, 0]);
    const [next] = await claimWork(b, { agentId: 'C', limit: 1, waitMs: 0 });
    assert.equal(next?.id, item.id, 'the next live claimer gets it at once, not after a lease');
    assert.equal(next.attempts, 1);
    await completeWork(a, 'C', item.id, { runRequests: [] });
  });

  test('ack, complete and fail are idempotent, and effects apply once', async () => {
    // The run requested must name a job of the location (work-effects.ts tickRuns).
    const version = await writeLocationVersion(a.db, a, { name: 'loc', module: 'x.ts' });
    const snapshot = { jobs: [{ name: 'j' }], schedules: [], sensors: [], partitions: [] };
    await reportCodeLocation(a, { location: 'loc', version, status: 'LOADED', snapshot });
    const { item } = await enqueueWork(a, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'loc', sensor: 'once', cursor: null },
    });
    const [c] = await claimWork(a, { agentId: 'A', limit: 1, waitMs: 0 });
    assert.equal(c?.id, item.id);
    for (let i = 0; i < 2; i++)
      assert.equal((await ackWork(a, 'A', item.id, workItemWorkflowId(item.id))).status, 'ACKED');
    const result = { runRequests: [{ runKey: 'k1', job: 'j', runConfig: {}, tags: {} }], cursor: 'c1' };
    // Two replicas at once on PostgreSQL. SQLite's driver is synchronous, so two connections in
    // one process would block each other's event loop; there a single store races itself.
    const other = target.dialect === 'postgres' ? b : a;
    const done = await Promise.all([completeWork(a, 'A', item.id, result), completeWork(other, 'B', item.id, result)]);
    assert.deepEqual(
      done.map((d) => d.status),
      ['COMPLETED', 'COMPLETED'],
    );
    assert.equal((await completeWork(a, 'A', item.id, result)).status, 'COMPLETED');
    assert.equal(
      (await failWork(a, 'A', item.id, { code: 'OUTPOST_ERR_INTERNAL', message: 'late' })).status,
      'COMPLETED',
    );
    const runs = await a.db.selectFrom('runs').select('id').where('dedupe_key', '=', 'sensor:loc:once:k1').execute();
    assert.equal(runs.length, 1, 'one run for the run key');
    const cursor = await a.db.selectFrom('instigators').select('cursor').where('name', '=', 'once').executeTakeFirst();
    assert.equal(cursor?.cursor, 'c1');
  });

  test('a malformed result is refused and changes nothing', async () => {
    const { item } = await enqueueWork(a, {
      kind: 'EVALUATE_SCHEDULE',
      payload: { location: 'l', schedule: 's', tickTimeMs: 1 },
    });
    const got = await claimWork(a, { agentId: 'A', limit: 10, waitMs: 0 });
    assert.ok(got.some((g) => g.id === item.id));
    await assert.rejects(completeWork(a, 'A', item.id, { runRequests: 'nope' }), (e: unknown) =>
      isOutpostError(e, 'INVALID_ARGUMENT'),
    );
    assert.equal((await getWorkItem(a.db, item.id))?.status, 'CLAIMED');
    await failWork(a, 'A', item.id, { code: 'OUTPOST_ERR_UNKNOWN_KIND', message: 'test' });
    await failWork(a, 'A', item.id, { code: 'OUTPOST_ERR_UNKNOWN_KIND', message: 'again' });
    const f = await getWorkItem(a.db, item.id);
    assert.equal(f?.status, 'FAILED');
    assert.equal(f.error?.message, 'test');
  });

  test('batched acks (carried by claims): own leases acked, others and unknown ids skipped, late acks keep the workflow id', async () => {
    // Drain what earlier tests left queued, so the claims below see only these items.
    await claimWork(a, { agentId: 'drain', limit: 100, waitMs: 0 });
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await sensorItem(100 + i)).item.id);
    const mine = await claimWork(a, { agentId: 'A', limit: 3, waitMs: 0 });
    assert.equal(mine.length, 3, 'a claim takes at most its limit');
    const theirs = await claimWork(a, { agentId: 'B', limit: 1, waitMs: 0 });
    assert.deepEqual([...mine, ...theirs].map((i) => i.id).sort(), [...ids].sort());
    const [m0, m1, m2] = mine;
    // m2 finishes before its ack arrives (a fast item): completion records the derived workflow id.
    const completed = await completeWork(a, 'A', m2!.id, { runRequests: [] });
    assert.equal(completed.status, 'COMPLETED');
    assert.equal(completed.workflowId, workItemWorkflowId(m2!.id));
    const acks = [...mine, ...theirs, { id: 'wi_unknown' }].map((i) => ({
      id: i.id,
      workflowId: workItemWorkflowId(i.id),
    }));
    assert.equal(await ackWorkBatch(a, 'A', acks), 2, 'only the two live items leased to A');
    for (const m of [m0, m1]) {
      const row = await getWorkItem(a.db, m!.id);
      assert.equal(row?.status, 'ACKED');
      assert.equal(row?.workflowId, workItemWorkflowId(m!.id));
    }
    assert.equal((await getWorkItem(a.db, m2!.id))?.status, 'COMPLETED', 'a late ack leaves a finished item as it is');
    const other = await getWorkItem(a.db, theirs[0]!.id);
    assert.equal(other?.status, 'CLAIMED', "B's lease untouched");
    assert.equal(other?.leaseOwner, 'B');
    assert.equal(await ackWorkBatch(a, 'A', acks), 0, 'acking again changes nothing');
    assert.equal(await ackWorkBatch(a, 'A', []), 0);
  });

  test('acks carried by a claim are applied before lapsed leases are swept, then the claim; a lapsed lease of another item is re-queued and claimed', async () => {
    await claimWork(a, { agentId: 'drain', limit: 100, waitMs: 0 });
    const x = (await sensorItem(200)).item;
    const [claimed] = await claimWork(a, { agentId: 'A', limit: 1, waitMs: 0 });
    assert.equal(claimed?.id, x.id);
    const y = (await sensorItem(201)).item;
    const [held] = await claimWork(b, { agentId: 'B', limit: 1, waitMs: 0 });
    assert.equal(held?.id, y.id);
    const z = (await sensorItem(202)).item;
    // Both leases lapse; A's ack of x still counts (its lapsed lease was not re-queued yet).
    clock.now += 1_001;
    const acks = [{ id: x.id, workflowId: workItemWorkflowId(x.id) }];
    const got = await claimWork(a, { agentId: 'A', limit: 5, waitMs: 0, acks });
    assert.equal((await getWorkItem(a.db, x.id))?.status, 'ACKED', 'acked, not swept and handed out again');
    const gotIds = got.map((i) => i.id);
    // (Leases left by earlier tests lapse too and come back with y.)
    assert.ok(gotIds.includes(y.id) && gotIds.includes(z.id), "B's lapsed y re-queued and claimed with z");
    assert.ok(!gotIds.includes(x.id));
    // With no lapsed lease, acks and claim go together.
    const w = (await sensorItem(203)).item;
    const more = await claimWork(a, {
      agentId: 'A',
      limit: 5,
      waitMs: 0,
      acks: got.map((i) => ({ id: i.id, workflowId: workItemWorkflowId(i.id) })),
    });
    assert.deepEqual(
      more.map((i) => i.id),
      [w.id],
    );
    for (const id of [y.id, z.id]) assert.equal((await getWorkItem(a.db, id))?.status, 'ACKED');
  });
});
