// Migration 0004 rewrites stored runs' started_at/ended_at from their RUN_START and terminal
// events (the times run-timing.ts computes at ingest since), on SQLite and PostgreSQL. The
// database is brought to the latest version, given rows as the old code stored them (times
// the control plane heard of the events), and 0004 is run again on a re-open.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { Store } from '../../../src/control-plane/store/store.js';
import { getRun } from '../../../src/control-plane/store/runs.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { describeEachDialect } from '../../support/storage.js';

describeEachDialect('migration 0004_run_times_from_events', (target) => {
  test('started/ended become the events own times; a run that never started has no start', async () => {
    const url = await target.freshUrl();
    let store = await Store.open({ url });
    const mk = () =>
      store.transaction((trx) => createRun(trx, store, { location: 'l', job: 'j', runConfig: {}, tags: {} }));
    const done = (await mk()).run.id;
    const neverStarted = (await mk()).run.id;
    const heard = 9_000_000; // when the old code heard of the events
    await store.db
      .insertInto('run_events')
      .values(
        [
          [1, 'RUN_START', 1_000.4],
          [2, 'LOG', 1_001],
          [3, 'RUN_SUCCESS', 1_009],
        ].map(([seq, type, timestamp]) => ({
          run_id: done,
          seq: seq as number,
          type: type as string,
          timestamp: timestamp as number,
          step_key: null,
          level: null,
          message: null,
          data: null,
          error: null,
        })),
      )
      .execute();
    await store.db
      .updateTable('runs')
      .set({ status: 'SUCCESS', started_at: heard, ended_at: heard })
      .where('id', '=', done)
      .execute();
    await store.db
      .updateTable('runs')
      .set({ status: 'FAILURE', started_at: heard, ended_at: heard + 5 })
      .where('id', '=', neverStarted)
      .execute();
    await sql`DELETE FROM kysely_migration WHERE name = '0004_run_times_from_events'`.execute(store.db);
    await store.close();

    store = await Store.open({ url });
    try {
      const a = await getRun(store.db, done);
      assert.equal(a?.startedAt, 1_000);
      assert.equal(a?.endedAt, 1_009);
      const b = await getRun(store.db, neverStarted);
      assert.equal(b?.startedAt, null, 'no RUN_START: it never started');
      assert.equal(b?.endedAt, heard + 5, 'no terminal event: the control plane ended it then');
    } finally {
      await store.close();
    }
  });
});
