// The daemon decides from reads taken before it writes; another transaction (an agent's
// completion, a worker's RUN_START, another replica) may commit in between. Each case holds the
// daemon at its write with a PostgreSQL lock, commits that other transaction meanwhile, and lets
// the daemon go on: its write must follow what is stored by then, not what it read.
// - A sensor tick began from the cursor read at the pass's start: a tick that completed during
//   the pass (moving the cursor) had its run requests evaluated again from the old cursor.
// - The STARTING timeout failed a run whose RUN_START landed between its list and its update.
// - The launch reaper queued again (or failed) a launch whose run was reported launched between
//   its list and its update (the report does not touch the work item the reaper guards on).
// - Lease expiry failed an item, and with it its run, that its holder acknowledged between the
//   list of exhausted leases and the update (a lapsed lease may still be acknowledged).
// PostgreSQL only: SQLite serializes writers with BEGIN IMMEDIATE, and its reads outside a
// transaction cannot be held from outside.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { Daemon, type PassReport } from '../../../src/control-plane/daemon/daemon.js';
import { setSensorState } from '../../../src/control-plane/services/instigators-service.js';
import { createRun, reportRunLaunched } from '../../../src/control-plane/services/runs-service.js';
import { claimWork } from '../../../src/control-plane/services/work-service.js';
import { finishTickForItem, updateInstigator } from '../../../src/control-plane/store/instigators.js';
import { getRun, setRunStatus } from '../../../src/control-plane/store/runs.js';
import { ackWork } from '../../../src/control-plane/store/work-queue.js';
import { getWorkItem } from '../../../src/control-plane/store/work-items.js';
import { runWorkflowId } from '../../../src/shared/workflow-contract.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SNAPSHOT, loadedInStore } from '../../support/control-plane-harness.js';
import { describePostgres } from '../../support/storage.js';
import { until } from '../../support/wait.js';

const at = (h: number, m: number, s = 0) => Date.UTC(2026, 0, 1, h, m, s);

describePostgres(
  'daemon: a write after a stale read',
  'held with PostgreSQL locks; SQLite serializes writers',
  (target) => {
    let store: Store;
    const clock = { now: at(12, 0, 30) };
    let daemon: Daemon;

    before(async () => {
      store = await Store.open({ url: await target.freshUrl(), clock: () => clock.now });
      daemon = new Daemon(store, createLogger({ name: 'test', level: 'silent' }), {
        startingTimeoutMs: 1_000,
        launchDeadlineMs: 60_000,
      });
      // No schedule: the sensor's open-tick check is the pass's first read of `ticks`.
      await loadedInStore(store, 'hello', { ...SNAPSHOT, schedules: [] });
    });
    after(async () => {
      await store?.close();
    });

    /** The statements of other sessions waiting for a lock now. */
    const waiting = async (): Promise<string[]> =>
      (
        await sql<{ query: string }>`SELECT query FROM pg_stat_activity
        WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()`.execute(store.db)
      ).rows.map((r) => r.query);

    /** Starts a daemon pass and returns it once it waits on a lock, in a statement matching `at`. */
    const passHeldAt = async (at: RegExp, what: string): Promise<{ pass: Promise<PassReport> }> => {
      const pass = daemon.runOnce();
      const held = await until(what, async () => {
        const w = await waiting();
        return w.length ? w : undefined;
      });
      assert.match(held.join('\n'), at);
      return { pass };
    };

    test('a sensor tick begun after the previous one completed during the pass starts from the stored cursor', async () => {
      await setSensorState(store, 'hello', 'files', 'RUNNING');
      assert.deepEqual((await daemon.runOnce()).sensorsFired, ['hello/files']);
      const [first] = await claimWork(store, { agentId: 'A', limit: 1, waitMs: 0 });
      assert.equal(first?.kind, 'EVALUATE_SENSOR');
      clock.now = at(12, 1, 5);
      let pass: Promise<PassReport> | undefined;
      await store.transaction(async (trx) => {
        // The pass reads the sensor's row (cursor null, its tick open), then waits here.
        await sql`LOCK TABLE ticks IN ACCESS EXCLUSIVE MODE`.execute(trx);
        ({ pass } = await passHeldAt(/from "ticks"/i, 'the pass waits on ticks'));
        // The agent completes the open tick meanwhile, moving the cursor.
        await finishTickForItem(trx, store, first.id, { status: 'SUCCESS', cursor: 'c2' });
        await updateInstigator(trx, store, { location: 'hello', kind: 'SENSOR', name: 'files' }, { cursor: 'c2' });
      });
      await pass;
      const evaluations = await store.db
        .selectFrom('work_items')
        .select(['payload'])
        .where('kind', '=', 'EVALUATE_SENSOR')
        .orderBy('created_at')
        .execute();
      const cursors = evaluations.map((e) => (JSON.parse(e.payload) as { cursor: string | null }).cursor);
      assert.deepEqual(cursors, [null, 'c2'], 'the second evaluation starts from the cursor the first one stored');
      await setSensorState(store, 'hello', 'files', 'STOPPED');
    });

    test('the STARTING timeout leaves a run whose RUN_START landed between its list and its update', async () => {
      const { run } = await store.transaction((trx) =>
        createRun(trx, store, { location: 'hello', job: 'hello', runConfig: {}, tags: {} }),
      );
      const claimed = await claimWork(store, { agentId: 'A', limit: 50, waitMs: 0 });
      assert.ok(claimed.some((i) => i.kind === 'LAUNCH_RUN' && i.runId === run.id));
      await reportRunLaunched(store, 'A', run.id, { pid: 1 });
      clock.now += 2_000;
      let pass: Promise<PassReport> | undefined;
      await store.transaction(async (trx) => {
        // Reads go on (the list sees STARTING); the daemon's UPDATE of this row waits.
        await sql`SELECT id FROM runs WHERE id = ${run.id} FOR UPDATE`.execute(trx);
        ({ pass } = await passHeldAt(/update "runs"/i, 'the timeout waits on the run row'));
        // The worker's RUN_START is stored meanwhile.
        await setRunStatus(trx, store, run.id, 'STARTED');
      });
      assert.deepEqual((await pass!).runsTimedOut, []);
      assert.equal((await getRun(store.db, run.id))?.status, 'STARTED');
    });

    /** A new run and its LAUNCH_RUN item, claimed by agent A. */
    const claimedLaunch = async (): Promise<{ runId: string; itemId: string }> => {
      const { run } = await store.transaction((trx) =>
        createRun(trx, store, { location: 'hello', job: 'hello', runConfig: {}, tags: {} }),
      );
      const claimed = await claimWork(store, { agentId: 'A', limit: 50, waitMs: 0 });
      const item = claimed.find((i) => i.kind === 'LAUNCH_RUN' && i.runId === run.id);
      assert.ok(item);
      return { runId: run.id, itemId: item.id };
    };

    test('the launch reaper does not queue again a launch reported launched between its list and its update', async () => {
      const { runId, itemId } = await claimedLaunch();
      await ackWork(store, 'A', itemId, runWorkflowId(runId));
      clock.now += 61_000;
      let pass: Promise<PassReport> | undefined;
      await store.transaction(async (trx) => {
        await sql`SELECT id FROM runs WHERE id = ${runId} FOR UPDATE`.execute(trx);
        ({ pass } = await passHeldAt(/update "runs"/i, 'the reaper waits on the run row'));
        // The agent's launch report lands meanwhile.
        await setRunStatus(trx, store, runId, 'STARTING');
      });
      const report = await pass!;
      assert.deepEqual([report.launchesRequeued, report.launchesFailed], [[], []]);
      assert.equal((await getWorkItem(store.db, itemId))?.status, 'ACKED');
      const queuedAgain = await store.db
        .selectFrom('run_events')
        .select('message')
        .where('run_id', '=', runId)
        .where('message', 'like', '%queued again%')
        .execute();
      assert.deepEqual(queuedAgain, []);
      assert.equal((await getRun(store.db, runId))?.status, 'STARTING');
    });

    test('lease expiry does not fail an item its holder acknowledged between the list and the update', async () => {
      const { runId, itemId } = await claimedLaunch();
      // Its last attempt: past the lease it is exhausted, not queued again.
      await store.db.updateTable('work_items').set({ max_attempts: 1 }).where('id', '=', itemId).execute();
      clock.now += 10 * 60_000;
      let pass: Promise<PassReport> | undefined;
      await store.transaction(async (trx) => {
        await sql`SELECT id FROM work_items WHERE id = ${itemId} FOR UPDATE`.execute(trx);
        ({ pass } = await passHeldAt(/update "work_items"/i, 'the expiry waits on the item row'));
        // The holder's ack of its lapsed lease lands meanwhile (ackWork's own statement).
        await trx
          .updateTable('work_items')
          .set({ status: 'ACKED', lease_expires_at: null, workflow_id: runWorkflowId(runId), updated_at: clock.now })
          .where('id', '=', itemId)
          .where('status', '=', 'CLAIMED')
          .where('lease_owner', '=', 'A')
          .execute();
      });
      await pass;
      assert.equal((await getWorkItem(store.db, itemId))?.status, 'ACKED');
      assert.equal((await getRun(store.db, runId))?.status, 'QUEUED');
    });
  },
);
