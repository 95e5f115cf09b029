// SQLite's WAL checkpoints run on a thread of their own, not inside the control plane's COMMIT
// (src/control-plane/store/dialect/sqlite-checkpointer.ts): the main connection's autocheckpoint
// is off, the thread still copies the WAL into the database once it passes the threshold, a
// reader in another connection keeps its snapshot through a checkpoint, the WAL's bound is kept
// by a RESTART checkpoint, and close ends the thread. Real SQLite files; no timings: each test
// waits for the checkpointer's own events.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { appendComputeLogs } from '../../../src/control-plane/store/compute-logs.js';
import {
  SqliteCheckpointer,
  WAL_CHECKPOINT_PAGES,
  type CheckpointResult,
} from '../../../src/control-plane/store/dialect/sqlite-checkpointer.js';
import { sqliteCheckpointerOf } from '../../../src/control-plane/store/dialect/sqlite-dialect.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { until } from '../../support/wait.js';

const MiB = 1024 * 1024;
const threads = (): number => readdirSync('/proc/self/task').length;

async function withStore(fn: (store: Store, file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sqlite-ckpt-'));
  const file = join(dir, 'outpost.db');
  const store = await Store.open({ url: `sqlite:${file}`, limits: { computeLogCapBytes: 1024 * MiB } });
  try {
    await fn(store, file);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function newRun(store: Store): Promise<string> {
  const { run } = await store.transaction((trx) =>
    createRun(trx, store, { location: 'loc', job: 'job', runConfig: {}, tags: {} }),
  );
  return run.id;
}

/** Appends `mib` chunks of 1 MiB to the run's stdout, from byte `from` on; returns the end. */
async function appendMiB(store: Store, runId: string, from: number, mib: number): Promise<number> {
  let off = from;
  for (let i = 0; i < mib; i++) {
    await appendComputeLogs(store, runId, 'stdout', off, Buffer.alloc(MiB, 97 + (i % 26)));
    off += MiB;
  }
  return off;
}

/** The next checkpoint that copied every frame the WAL held. */
function fullCheckpoint(ckpt: SqliteCheckpointer): Promise<CheckpointResult> {
  return new Promise((resolve) => {
    const on = (r: CheckpointResult): void => {
      if (r.busy === 0 && r.log > 0 && r.checkpointed === r.log) {
        ckpt.off('checkpoint', on);
        resolve(r);
      }
    };
    ckpt.on('checkpoint', on);
  });
}

test('the main connection does not checkpoint; the thread copies the WAL into the database and it restarts', async () => {
  await withStore(async (store, file) => {
    const [row] = (await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db)).rows;
    assert.equal(row?.wal_autocheckpoint, 0, 'autocheckpoint is off on the main connection');
    const ckpt = sqliteCheckpointerOf(store.dialect);
    assert.ok(ckpt, 'a file database has a checkpointer');
    const runId = await newRun(store);
    const dbBefore = statSync(file).size;
    const full = fullCheckpoint(ckpt);
    // One commit of 6 MiB: past the threshold (1000 pages of 4 KiB), and nothing written after it.
    const end = 6 * MiB;
    await appendComputeLogs(store, runId, 'stdout', 0, Buffer.alloc(end, 97));
    const done = await full;
    assert.ok(done.log >= WAL_CHECKPOINT_PAGES, `the WAL held ${done.log} frames when copied`);
    // The pages reached the database file: only a checkpoint writes it.
    assert.ok(statSync(file).size >= dbBefore + 6 * MiB, `database file ${statSync(file).size} bytes`);
    // With every frame copied, the next commit starts the WAL over from its beginning.
    await appendComputeLogs(store, runId, 'stdout', end, Buffer.from('x'));
    const wal = ckpt.walState();
    assert.ok(wal && wal.frames < 100, `WAL restarted: ${wal?.frames} frames`);
    const stored = await store.db.selectFrom('runs').select('stdout_bytes').where('id', '=', runId).executeTakeFirst();
    assert.equal(Number(stored?.stdout_bytes), end + 1);
  });
});

test('a reader in another connection keeps its snapshot while the thread checkpoints; the rest is copied after it ends', async () => {
  await withStore(async (store, file) => {
    const ckpt = sqliteCheckpointerOf(store.dialect)!;
    const runId = await newRun(store);
    const reader = new SQLite(file, { readonly: true });
    try {
      const count = reader.prepare('SELECT count(*) AS n FROM compute_logs WHERE run_id = ?').pluck();
      reader.exec('BEGIN');
      assert.equal(count.get(runId), 0);
      const checkpoints: CheckpointResult[] = [];
      const first = once(ckpt, 'checkpoint') as Promise<[CheckpointResult]>;
      ckpt.on('checkpoint', (r: CheckpointResult) => checkpoints.push(r));
      const end = await appendMiB(store, runId, 0, 6);
      const [r] = await first;
      assert.equal(r.mode, 'PASSIVE');
      assert.ok(
        r.checkpointed < r.log,
        `frames past the reader's snapshot stay in the WAL: ${r.checkpointed}/${r.log}`,
      );
      assert.equal(count.get(runId), 0, 'the reader still sees its snapshot');
      reader.exec('COMMIT');
      assert.equal(count.get(runId), 6, 'a new read sees every chunk');
      const full = fullCheckpoint(ckpt);
      await appendMiB(store, runId, end, 5);
      await full;
    } finally {
      reader.close();
    }
  });
});

test('past its bound the WAL is checkpointed with RESTART while writes wait, without blocking the thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sqlite-ckpt-'));
  const file = join(dir, 'bound.db');
  const handle = new SQLite(file);
  handle.pragma('journal_mode = WAL');
  handle.pragma('synchronous = NORMAL');
  const ckpt = new SqliteCheckpointer(handle, { file, thresholdPages: 100, boundBytes: 2 * MiB });
  try {
    handle.exec('CREATE TABLE t (b BLOB)');
    const insert = handle.prepare('INSERT INTO t VALUES (?)');
    const restarted = new Promise<CheckpointResult>((resolve) =>
      ckpt.on('checkpoint', (r: CheckpointResult) => r.mode === 'RESTART' && resolve(r)),
    );
    insert.run(Buffer.alloc(3 * MiB, 1));
    ckpt.afterCommit();
    const wait = ckpt.beforeWrite();
    assert.ok(wait, 'a write waits while the WAL is past its bound');
    // The thread is free meanwhile: an immediate runs before the checkpoint answers.
    let ticked = false;
    setImmediate(() => (ticked = true));
    await wait;
    const r = await restarted;
    assert.ok(ticked);
    assert.equal(r.busy, 0);
    assert.equal(r.checkpointed, r.log);
    assert.equal(ckpt.beforeWrite(), undefined, 'every frame copied: writes go on');
    // The next write starts the WAL over, so its size stays within the bound.
    insert.run(Buffer.from('x'));
    ckpt.afterCommit();
    const wal = ckpt.walState();
    assert.ok(wal && wal.frames < 10, `WAL restarted: ${wal?.frames} frames`);
    assert.equal(handle.prepare('SELECT count(*) FROM t').pluck().get(), 2);
  } finally {
    await ckpt.close();
    handle.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an idle thread ends and the next checkpoint starts one again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sqlite-ckpt-'));
  const file = join(dir, 'idle.db');
  const handle = new SQLite(file);
  handle.pragma('journal_mode = WAL');
  const ckpt = new SqliteCheckpointer(handle, { file, thresholdPages: 10, idleMs: 50 });
  try {
    handle.exec('CREATE TABLE t (b BLOB)');
    const insert = handle.prepare('INSERT INTO t VALUES (?)');
    const write = async (): Promise<void> => {
      const full = fullCheckpoint(ckpt);
      insert.run(Buffer.alloc(MiB, 1));
      ckpt.afterCommit();
      await full;
    };
    await write();
    assert.ok(ckpt.threadRunning);
    await until('the idle thread ended', () => !ckpt.threadRunning, 30_000, 20);
    await write();
    assert.ok(ckpt.threadRunning, 'started again for the next checkpoint');
    assert.equal(handle.prepare('SELECT count(*) FROM t').pluck().get(), 2);
  } finally {
    await ckpt.close();
    handle.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('close runs a last checkpoint and ends the thread; the database reopens with every row', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sqlite-ckpt-'));
  const file = join(dir, 'outpost.db');
  try {
    await stat(dir); // the libuv pool's threads, started now rather than during the test
    const before = threads();
    const store = await Store.open({ url: `sqlite:${file}`, limits: { computeLogCapBytes: 1024 * MiB } });
    const ckpt = sqliteCheckpointerOf(store.dialect)!;
    const runId = await newRun(store);
    const full = fullCheckpoint(ckpt);
    await appendMiB(store, runId, 0, 6);
    await full;
    assert.ok(ckpt.threadRunning);
    assert.ok(threads() > before, 'the checkpoint thread is one of the process threads');
    const last: CheckpointResult[] = [];
    ckpt.on('checkpoint', (r: CheckpointResult) => last.push(r));
    await store.close();
    assert.equal(ckpt.threadRunning, false);
    assert.equal(last.length, 1, 'one last checkpoint at close');
    assert.equal(threads(), before, 'no thread left behind');
    // The main connection closed last: SQLite removed the WAL, everything is in the database.
    assert.equal(existsSync(`${file}-wal`), false);
    const again = await Store.open({ url: `sqlite:${file}` });
    try {
      const row = await again.db.selectFrom('runs').select('stdout_bytes').where('id', '=', runId).executeTakeFirst();
      assert.equal(Number(row?.stdout_bytes), 6 * MiB);
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an in-memory database has no WAL and no checkpointer', async () => {
  const store = await Store.open({ url: 'sqlite::memory:' });
  try {
    assert.equal(sqliteCheckpointerOf(store.dialect), undefined);
    const runId = await newRun(store);
    await appendComputeLogs(store, runId, 'stdout', 0, Buffer.from('hello'));
  } finally {
    await store.close();
  }
});
