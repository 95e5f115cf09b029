// The SQLite checkpointer's thread (sqlite-checkpointer.ts starts it): its own connection to the
// control plane's database file, running the WAL checkpoints the main connection no longer runs
// itself (wal_autocheckpoint = 0 there). A checkpoint copies the WAL's pages into the database
// and fsyncs; run by the committing connection, that blocked the control plane's only thread
// for 10-150 ms per 4 MiB log chunk. Here it blocks only this thread.
//
// Plain JavaScript on purpose: worker threads do not inherit tsx's loader. Messages:
//   in:  { type: 'checkpoint', mode: 'PASSIVE' | 'RESTART' }
//        { type: 'close' }        a last PASSIVE checkpoint, then the connection is closed
//   out: { type: 'checkpoint', mode, busy, log, checkpointed, ms } | { type: 'failed', mode, message }
//        { type: 'closed' }
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

/** @type {{ file: string, busyTimeoutMs: number }} */
const config = workerData;
// A lower CPU priority for this thread alone (Linux: a thread id is a pid to setpriority), so on
// a busy host the control plane's thread is scheduled first. Best effort.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (tid > 0) setPriority(tid, 10);
} catch {
  /* not Linux, or not permitted: the default priority */
}
const db = new SQLite(config.file, { fileMustExist: true });
// RESTART waits this long for a writer or reader to finish; PASSIVE never waits.
db.pragma(`busy_timeout = ${config.busyTimeoutMs}`);
// This connection never writes, so it never checkpoints on its own; said for clarity.
db.pragma('wal_autocheckpoint = 0');

/** @param {'PASSIVE' | 'RESTART'} mode */
function checkpoint(mode) {
  const t0 = performance.now();
  try {
    const [row] = db.pragma(`wal_checkpoint(${mode})`);
    return { type: 'checkpoint', mode, ...row, ms: performance.now() - t0 };
  } catch (err) {
    return { type: 'failed', mode, message: err instanceof Error ? err.message : String(err) };
  }
}

parentPort.on('message', (m) => {
  if (m.type === 'checkpoint') parentPort.postMessage(checkpoint(m.mode === 'RESTART' ? 'RESTART' : 'PASSIVE'));
  else if (m.type === 'close') {
    parentPort.postMessage(checkpoint('PASSIVE'));
    db.close();
    parentPort.postMessage({ type: 'closed' });
    // Nothing else to wait for: the thread ends once the port stops listening.
    parentPort.removeAllListeners('message');
    parentPort.close();
  }
});
