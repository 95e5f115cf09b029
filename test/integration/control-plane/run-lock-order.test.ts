// A run and its launch item are locked in one order by every transaction that writes both: the
// run first (store/runs.ts lockRun). The agent ingest holds the run's row, then reads its
// launch's lease FOR SHARE while no launch is reported (store/ownership.ts). A transaction that
// wrote the item first and then waited on the run closed a cycle with it, which PostgreSQL
// breaks by aborting one side (40P01: a 500 to the agent, or a failed claim pass):
// - failWork, and lease expiry with no attempts left (failItem), wrote the item, then the run;
// - completeWork of a launch wrote the item, then set the run's status;
// - terminateRun of a QUEUED run canceled its launch item, then set the run CANCELED.
// Each case holds the run's row and starts the call: it must wait there with its work item
// still free (a FOR SHARE NOWAIT read of the item gets it), then finish once the run is let go.
// PostgreSQL only: SQLite serializes writers with BEGIN IMMEDIATE.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { createRun, terminateRun } from '../../../src/control-plane/services/runs-service.js';
import { claimWork, completeWork, failWork } from '../../../src/control-plane/services/work-service.js';
import { getRun } from '../../../src/control-plane/store/runs.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { getWorkItem } from '../../../src/control-plane/store/work-items.js';
import { loadedInStore } from '../../support/control-plane-harness.js';
import { describePostgres } from '../../support/storage.js';
import { until } from '../../support/wait.js';

describePostgres(
  'a run and its launch item are locked run first',
  'held with PostgreSQL locks; SQLite serializes writers',
  (target) => {
    let store: Store;

    before(async () => {
      store = await Store.open({ url: await target.freshUrl() });
      await loadedInStore(store);
    });
    after(async () => {
      await store?.close();
    });

    /** A new QUEUED run and its LAUNCH_RUN item, claimed by agent A when `claim`. */
    const launch = async (claim: boolean): Promise<{ runId: string; itemId: string }> => {
      const { run, launch: item } = await store.transaction((trx) =>
        createRun(trx, store, { location: 'hello', job: 'hello', runConfig: {}, tags: {} }),
      );
      assert.ok(item, 'a new run has its launch item');
      if (claim) {
        const claimed = await claimWork(store, { agentId: 'A', limit: 50, waitMs: 0 });
        assert.ok(claimed.some((i) => i.id === item.id));
      }
      return { runId: run.id, itemId: item.id };
    };

    /** Whether another session can take the item's row FOR SHARE now (false: a writer holds it). */
    const itemFree = async (itemId: string): Promise<boolean> => {
      try {
        await sql`SELECT id FROM work_items WHERE id = ${itemId} FOR SHARE NOWAIT`.execute(store.db);
        return true;
      } catch (err) {
        if ((err as { code?: string }).code === '55P03') return false;
        throw err;
      }
    };

    /**
     * Holds the run's row, starts `call`, waits until it waits on a lock, checks that the item is
     * still free, then lets the run go and returns what `call` returned.
     */
    async function heldAtRun<T>(runId: string, itemId: string, call: () => Promise<T>): Promise<T> {
      let pending: Promise<T> | undefined;
      let free: boolean | undefined;
      await store.transaction(async (trx) => {
        await sql`SELECT id FROM runs WHERE id = ${runId} FOR UPDATE`.execute(trx);
        pending = call();
        // Kept from rejecting unobserved while this transaction still runs; awaited below.
        pending.catch(() => undefined);
        await until('the call waits on a lock', async () => {
          const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND datname = current_database() AND pid <> pg_backend_pid()`.execute(trx);
          return rows[0]!.n > 0 || undefined;
        });
        free = await itemFree(itemId);
      });
      const out = await pending!;
      assert.equal(free, true, 'the call held the work item while it waited on the run');
      return out;
    }

    test('failWork of a claimed launch takes the run before its item', async () => {
      const { runId, itemId } = await launch(true);
      const item = await heldAtRun(runId, itemId, () =>
        failWork(store, 'A', itemId, { code: 'OUTPOST_ERR_INTERNAL', message: 'boom' }),
      );
      assert.equal(item.status, 'FAILED');
      assert.equal((await getRun(store.db, runId))?.status, 'FAILURE');
    });

    test('completeWork of a claimed launch takes the run before its item', async () => {
      const { runId, itemId } = await launch(true);
      const item = await heldAtRun(runId, itemId, () => completeWork(store, 'A', itemId, { status: 'FAILURE' }));
      assert.equal(item.status, 'COMPLETED');
      assert.equal((await getRun(store.db, runId))?.status, 'FAILURE');
    });

    test('terminateRun of a QUEUED run takes the run before its launch item', async () => {
      const { runId, itemId } = await launch(false);
      const run = await heldAtRun(runId, itemId, () => terminateRun(store, runId));
      assert.equal(run.status, 'CANCELED');
      assert.equal((await getWorkItem(store.db, itemId))?.status, 'FAILED');
    });
  },
);
