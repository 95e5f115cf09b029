// A RESTART checkpoint (store/dialect/sqlite-checkpointer.ts) holds SQLite's write lock on the
// checkpoint thread while it copies the WAL; writes are meant to wait for it asynchronously. A
// write already queued for Kysely's one connection when the commit ahead of it asked for the
// RESTART did not look again: its BEGIN IMMEDIATE raced the thread, and when the thread had the
// lock first, SQLite's busy handler held the control plane's only thread (sleeping) until the
// checkpoint ended. The order is the observable: such a write begins after the RESTART answers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { appendComputeLogs } from '../../../src/control-plane/store/compute-logs.js';
import {
  WAL_BOUND_BYTES,
  type CheckpointResult,
} from '../../../src/control-plane/store/dialect/sqlite-checkpointer.js';
import { sqliteCheckpointerOf } from '../../../src/control-plane/store/dialect/sqlite-dialect.js';
import { appendRunEvents } from '../../../src/control-plane/store/run-events.js';
import { Store } from '../../../src/control-plane/store/store.js';

const MiB = 1024 * 1024;

test('writes queued behind the commit that asks for a RESTART checkpoint begin once it has answered', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sqlite-restart-'));
  const store = await Store.open({
    url: `sqlite:${join(dir, 'outpost.db')}`,
    limits: { computeLogCapBytes: 1024 * MiB },
  });
  try {
    const ckpt = sqliteCheckpointerOf(store.dialect);
    assert.ok(ckpt, 'a file database has a checkpointer');
    const newRun = async (): Promise<string> =>
      (await store.transaction((trx) => createRun(trx, store, { location: 'l', job: 'j', runConfig: {}, tags: {} })))
        .run.id;
    const logsRun = await newRun();
    const eventsRun = await newRun();
    const order: string[] = [];
    ckpt.on('checkpoint', (r: CheckpointResult) => {
      if (r.mode === 'RESTART') order.push('RESTART answered');
    });
    // One commit takes the WAL past its bound and asks for the RESTART; the writes after it were
    // called before that commit, so they are already waiting for the connection.
    const big = appendComputeLogs(store, logsRun, 'stdout', 0, Buffer.alloc(WAL_BOUND_BYTES + MiB, 97));
    const transaction = store.transaction(async (trx) => {
      order.push('transaction began');
      await sql`UPDATE runs SET updated_at = updated_at WHERE id = ${logsRun}`.execute(trx);
    });
    const events = appendRunEvents(store, eventsRun, [{ seq: 1, type: 'LOG', timestamp: 1, message: 'm' }]).then(
      (r) => {
        order.push('events stored');
        return r;
      },
    );
    await Promise.all([big, transaction, events]);
    assert.deepEqual(order, ['RESTART answered', 'transaction began', 'events stored']);
    assert.equal((await events).highestContiguousSeq, 1);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
