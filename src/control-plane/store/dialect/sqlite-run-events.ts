// The run-event ingest (run-events.ts) on SQLite: one better-sqlite3 transaction of prepared
// statements on the raw handle, run while the caller (sqlite-dialect.ts) holds Kysely's connection
// so nothing interleaves with it.
import type SQLite from 'better-sqlite3';
import { OutpostError } from '../../../shared/errors.js';
import { TERMINAL_EVENT_TYPE_LIST, TERMINAL_EVENT_TYPES } from '../../../shared/run-events.js';
import { statusForEvent, type RunStatus } from '../../core/run-state.js';
import {
  assertOneTerminal,
  assertSame,
  resentRange,
  STORED_COLS,
  type Row,
  type StoredCols,
} from '../run-event-conflicts.js';
import { batchChainEnd, COLS, contiguousFrom, planStatus, type AppendEventsResult } from '../run-events.js';
import { launchLeaseQuery, runWriterOf, type LaunchLease } from '../ownership.js';
import type { Store } from '../store.js';

/** Statements by SQL text, per database handle: compiled once, not on every batch. */
const statements = new WeakMap<SQLite.Database, Map<string, SQLite.Statement>>();

function prep(db: SQLite.Database, sql: string): SQLite.Statement {
  let byText = statements.get(db);
  if (!byText) statements.set(db, (byText = new Map<string, SQLite.Statement>()));
  let st = byText.get(sql);
  if (!st) byText.set(sql, (st = db.prepare(sql)));
  return st;
}

/** ownership.ts's launchLeaseQuery on the raw handle: one SQL text, so one prepared statement. */
function launchLease(store: Store, db: SQLite.Database, runId: string, agentId: string): LaunchLease | undefined {
  const q = launchLeaseQuery(store.db, runId, agentId).compile();
  return prep(db, q.sql).get(...q.parameters) as LaunchLease | undefined;
}

/**
 * One batch in one transaction; the caller holds Kysely's connection so nothing interleaves with
 * it. `writer`, when given, is checked to write the run first (store/ownership.ts): its launching
 * agent from the run row read here, its launch's lease only while no launch is recorded.
 */
export function appendRunEventsSqlite(
  store: Store,
  db: SQLite.Database,
  runId: string,
  rows: Row[],
  writer?: string,
): AppendEventsResult {
  const tx = db.transaction((): AppendEventsResult => {
    const run = prep(db, 'SELECT status, last_seq, event_seq, agent_id FROM runs WHERE id = ?').get(runId) as
      { status: RunStatus; last_seq: number; event_seq: number; agent_id: string | null } | undefined;
    if (!run) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
    if (writer !== undefined && run.agent_id !== writer) {
      runWriterOf(runId, writer, run.agent_id, run.agent_id ? undefined : launchLease(store, db, runId, writer));
    }
    const last0 = Number(run.last_seq);
    const offset = Number(run.event_seq) - last0;
    // Every worker seq up to last_seq is stored once already: those rows are re-sends.
    const resent = rows.filter((r) => r[1] <= last0);
    if (resent.length) {
      const [lo, hi] = resentRange(resent, offset);
      const copies = prep(
        db,

        `SELECT worker_seq, ${STORED_COLS} FROM run_events
           WHERE run_id = ? AND seq >= ? AND seq <= ? AND worker_seq IS NOT NULL`,
      ).all(runId, lo, hi) as Array<StoredCols & { worker_seq: number }>;
      const byWorkerSeq = new Map(copies.map((c) => [Number(c.worker_seq), c]));
      for (const r of resent) assertSame(runId, r, byWorkerSeq.get(r[1]));
    }
    const fresh = rows.filter((r) => r[1] > last0);
    if (!fresh.length) return { highestContiguousSeq: last0, status: run.status };
    const toPending = prep(db, `INSERT OR IGNORE INTO run_events_pending (${COLS}) VALUES (?,?,?,?,?,?,?,?,?)`);
    let stored = fresh;
    let last: number;
    if (!prep(db, 'SELECT 1 FROM run_events_pending WHERE run_id = ? LIMIT 1').get(runId)) {
      // The common case: nothing waits past a gap, so the batch's chain from last_seq+1 is
      // numbered as it is inserted, and only what lies past a gap in the batch waits.
      last = batchChainEnd(
        last0,
        fresh.map((r) => r[1]),
      );
      // The public seq goes last, so a row binds as it is (no spread into a new array).
      const direct = prep(db, `INSERT INTO run_events (${COLS}, seq) VALUES (?,?,?,?,?,?,?,?,?,?)`);
      for (const r of fresh) {
        if (r[1] <= last) direct.run(r, r[1] + offset);
        else toPending.run(r);
      }
    } else {
      const pendingCopy = prep(db, `SELECT ${STORED_COLS} FROM run_events_pending WHERE run_id = ? AND worker_seq = ?`);
      stored = fresh.filter((r) => {
        if (toPending.run(...r).changes === 1) return true;
        assertSame(runId, r, pendingCopy.get(runId, r[1]) as StoredCols | undefined);
        return false;
      });
      const seqs = prep(db, 'SELECT worker_seq FROM run_events_pending WHERE run_id = ? ORDER BY worker_seq')
        .pluck()
        .iterate(runId) as Iterable<number>;
      last = contiguousFrom(last0, seqs);
      if (last > last0) {
        prep(
          db,
          `INSERT INTO run_events (seq, ${COLS}) SELECT worker_seq + ?, ${COLS} FROM run_events_pending
           WHERE run_id = ? AND worker_seq <= ? ORDER BY worker_seq`,
        ).run(offset, runId, last);
        prep(db, 'DELETE FROM run_events_pending WHERE run_id = ? AND worker_seq <= ?').run(runId, last);
      }
    }
    if (stored.some((r) => TERMINAL_EVENT_TYPES.has(r[2]))) {
      const inList = TERMINAL_EVENT_TYPE_LIST.map(() => '?').join(',');
      const terminals = prep(
        db,

        `SELECT worker_seq FROM run_events WHERE run_id = ? AND type IN (${inList})
           UNION ALL SELECT worker_seq FROM run_events_pending WHERE run_id = ? AND type IN (${inList})`,
      )
        .pluck()
        .all(runId, ...TERMINAL_EVENT_TYPE_LIST, runId, ...TERMINAL_EVENT_TYPE_LIST) as number[];
      assertOneTerminal(runId, terminals);
    }
    const now = store.now();
    // Only the events that move the status or carry its times (RUN_START, the terminal ones).
    const plan = planStatus(
      run.status,
      stored.filter((r) => statusForEvent(r[2]) !== undefined).map((r) => ({ seq: r[1], type: r[2], timestamp: r[3] })),
      now,
    );
    if (last !== last0 || plan.status !== run.status || plan.startedAt !== undefined) {
      prep(
        db,
        `UPDATE runs SET last_seq = ?, event_seq = ?, status = ?, updated_at = ?,
           started_at = coalesce(started_at, ?),
           ended_at = coalesce(?, ended_at)
         WHERE id = ?`,
      ).run(last, last + offset, plan.status, now, plan.startedAt ?? null, plan.endedAt ?? null, runId);
    }
    return { highestContiguousSeq: last, status: plan.status };
  });
  return tx.immediate();
}
