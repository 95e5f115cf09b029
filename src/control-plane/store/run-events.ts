// Run events: batched, idempotent ingest keyed by the worker's seq, with the run's highest
// contiguous worker seq and its status advanced in the same transaction. A worker event enters
// run_events, with its public seq (shared with ENGINE events: 1..N per run, no gap), when it
// becomes contiguous; until then (a later batch landed first) it waits in run_events_pending.
// So public order follows worker order, and a worker seq up to last_seq is stored exactly once.
// SQLite uses prepared statements in a better-sqlite3 transaction; PostgreSQL unnest() INSERTs.
import { sql } from 'kysely';
import { OutpostError } from '../../shared/errors.js';
import { RUN_EVENT_TYPES } from '../../shared/run-events.js';
import { applyEvent, isTerminal, statusForEvent, type RunStatus } from '../core/run-state.js';
import { executionTimes } from '../../shared/run-timing.js';
import {
  assertOneTerminal,
  assertSame,
  colsOf,
  resentRange,
  STORED_COLS,
  TERMINAL_TYPES,
  type Row,
  type StoredCols,
} from './run-event-conflicts.js';
import type { Store } from './store.js';
import { recordAssetEvents } from './asset-events.js';

export interface RunEventInput {
  seq: number;
  type: string;
  timestamp: number;
  stepKey?: string | null;
  /** ASSET_MATERIALIZATION / ASSET_OBSERVATION: the asset key (recorded in asset_events). */
  assetKey?: string | null;
  level?: string | null;
  message?: string | null;
  data?: unknown;
  error?: unknown;
}

export interface StoredRunEvent {
  /** Public seq: 1..N per run without gap, worker and ENGINE events alike. */
  seq: number;
  /** The run worker's own seq; null for ENGINE events. */
  workerSeq: number | null;
  type: string;
  timestamp: number;
  stepKey: string | null;
  level: string | null;
  message: string | null;
  data: Record<string, unknown> | null;
  error: Record<string, unknown> | null;
}

export interface AppendEventsResult {
  highestContiguousSeq: number;
  status: RunStatus;
}

const EVENT_TYPES: ReadonlySet<string> = new Set(RUN_EVENT_TYPES);

/** Validated rows, the first copy of each seq only (a batch may repeat one, identically). */
function toRows(runId: string, events: RunEventInput[]): Row[] {
  const seen = new Map<number, Row>();
  const rows = events.map((e, i): Row | undefined => {
    if (!Number.isSafeInteger(e.seq) || e.seq < 1) {
      throw new OutpostError('INVALID_ARGUMENT', {
        detail: `events[${i}].seq must be a positive integer`,
      });
    }
    if (!EVENT_TYPES.has(e.type)) {
      throw new OutpostError('INVALID_ARGUMENT', {
        detail: `events[${i}].type ${JSON.stringify(e.type)} is not a run event type`,
      });
    }
    const row: Row = [
      runId,
      e.seq,
      e.type,
      e.timestamp,
      e.stepKey ?? null,
      e.level ?? null,
      e.message ?? null,
      e.data == null ? null : JSON.stringify(e.data),
      e.error == null ? null : JSON.stringify(e.error),
    ];
    const first = seen.get(e.seq);
    if (first) {
      assertSame(runId, row, colsOf(first));
      return undefined;
    }
    seen.set(e.seq, row);
    return row;
  });
  return rows.filter((r): r is Row => r !== undefined);
}

/** Walks seqs (ascending, all > last) while they are consecutive. */
function contiguousFrom(last: number, seqs: Iterable<number>): number {
  for (const s of seqs) {
    if (Number(s) !== last + 1) break;
    last++;
  }
  return last;
}

/**
 * Highest h such that every worker seq lastSeq+1..h is in the batch (lastSeq when none is):
 * those rows extend the contiguous prefix whatever else is stored, so they are inserted with
 * their public seq and need no second write (the common case: batches arrive in order).
 */
export function batchChainEnd(lastSeq: number, workerSeqs: readonly number[]): number {
  const inBatch = new Set(workerSeqs);
  let h = lastSeq;
  while (inBatch.has(h + 1)) h++;
  return h;
}

interface Planned {
  status: RunStatus;
  /** RUN_START's own time, when it is among the new events (kept if already set). */
  startedAt: number | undefined;
  /** The terminal event's own time, when this batch ends the run. */
  endedAt: number | undefined;
}

type FreshEvent = { seq: number; type: string; timestamp: number };

/** Status after the newly stored events, in seq order, and the execution times they carry. */
export function planStatus(current: RunStatus, newEvents: FreshEvent[], now: number): Planned {
  let status = current;
  for (const e of newEvents.filter((x) => statusForEvent(x.type)).sort((a, b) => a.seq - b.seq)) {
    status = applyEvent(status, e.type);
  }
  const times = executionTimes(newEvents);
  const ended = status !== current && isTerminal(status);
  return { status, startedAt: times.startedAt, endedAt: ended ? (times.endedAt ?? now) : undefined };
}

/** Stores a batch; duplicates are ignored. Returns the highest contiguous seq and the status. */
export async function appendRunEvents(
  store: Store,
  runId: string,
  events: RunEventInput[],
): Promise<AppendEventsResult> {
  const rows = toRows(runId, events);
  const result = store.sqlite ? await appendSqlite(store, runId, rows) : await appendPostgres(store, runId, rows);
  await recordAssetEvents(store, runId, events);
  if (events.length) store.signals.notifyRunEvents(runId);
  return result;
}

/** Columns of run_events_pending, in Row order (the worker's seq is `worker_seq`). */
const COLS = 'run_id, worker_seq, type, timestamp, step_key, level, message, data, error';

async function appendSqlite(store: Store, runId: string, rows: Row[]): Promise<AppendEventsResult> {
  const db = store.sqlite!;
  // Hold Kysely's connection so no other statement interleaves with this raw transaction.
  return store.db.connection().execute(() => {
    const tx = db.transaction((): AppendEventsResult => {
      const run = db.prepare('SELECT status, last_seq, event_seq FROM runs WHERE id = ?').get(runId) as
        { status: RunStatus; last_seq: number; event_seq: number } | undefined;
      if (!run) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
      const last0 = Number(run.last_seq);
      const offset = Number(run.event_seq) - last0;
      // Every worker seq up to last_seq is stored once already: those rows are re-sends.
      const resent = rows.filter((r) => r[1] <= last0);
      if (resent.length) {
        const [lo, hi] = resentRange(resent, offset);
        const copies = db
          .prepare(
            `SELECT worker_seq, ${STORED_COLS} FROM run_events
             WHERE run_id = ? AND seq >= ? AND seq <= ? AND worker_seq IS NOT NULL`,
          )
          .all(runId, lo, hi) as Array<StoredCols & { worker_seq: number }>;
        const byWorkerSeq = new Map(copies.map((c) => [Number(c.worker_seq), c]));
        for (const r of resent) assertSame(runId, r, byWorkerSeq.get(r[1]));
      }
      const fresh = rows.filter((r) => r[1] > last0);
      if (!fresh.length) return { highestContiguousSeq: last0, status: run.status };
      const toPending = db.prepare(`INSERT OR IGNORE INTO run_events_pending (${COLS}) VALUES (?,?,?,?,?,?,?,?,?)`);
      let stored = fresh;
      let last: number;
      if (!db.prepare('SELECT 1 FROM run_events_pending WHERE run_id = ? LIMIT 1').get(runId)) {
        // The common case: nothing waits past a gap, so the batch's chain from last_seq+1 is
        // numbered as it is inserted, and only what lies past a gap in the batch waits.
        last = batchChainEnd(
          last0,
          fresh.map((r) => r[1]),
        );
        const direct = db.prepare(`INSERT INTO run_events (seq, ${COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)`);
        for (const r of fresh) {
          if (r[1] <= last) direct.run(r[1] + offset, ...r);
          else toPending.run(...r);
        }
      } else {
        const pendingCopy = db.prepare(
          `SELECT ${STORED_COLS} FROM run_events_pending WHERE run_id = ? AND worker_seq = ?`,
        );
        stored = fresh.filter((r) => {
          if (toPending.run(...r).changes === 1) return true;
          assertSame(runId, r, pendingCopy.get(runId, r[1]) as StoredCols | undefined);
          return false;
        });
        const seqs = db
          .prepare('SELECT worker_seq FROM run_events_pending WHERE run_id = ? ORDER BY worker_seq')
          .pluck()
          .iterate(runId) as Iterable<number>;
        last = contiguousFrom(last0, seqs);
        if (last > last0) {
          db.prepare(
            `INSERT INTO run_events (seq, ${COLS}) SELECT worker_seq + ?, ${COLS} FROM run_events_pending
             WHERE run_id = ? AND worker_seq <= ? ORDER BY worker_seq`,
          ).run(offset, runId, last);
          db.prepare('DELETE FROM run_events_pending WHERE run_id = ? AND worker_seq <= ?').run(runId, last);
        }
      }
      if (stored.some((r) => TERMINAL_TYPES.includes(r[2]))) {
        const inList = TERMINAL_TYPES.map(() => '?').join(',');
        const terminals = db
          .prepare(
            `SELECT worker_seq FROM run_events WHERE run_id = ? AND type IN (${inList})
             UNION ALL SELECT worker_seq FROM run_events_pending WHERE run_id = ? AND type IN (${inList})`,
          )
          .pluck()
          .all(runId, ...TERMINAL_TYPES, runId, ...TERMINAL_TYPES) as number[];
        assertOneTerminal(runId, terminals);
      }
      const now = store.now();
      const plan = planStatus(
        run.status,
        stored.map((r) => ({ seq: r[1], type: r[2], timestamp: r[3] })),
        now,
      );
      if (last !== last0 || plan.status !== run.status || plan.startedAt !== undefined) {
        db.prepare(
          `UPDATE runs SET last_seq = ?, event_seq = ?, status = ?, updated_at = ?,
             started_at = coalesce(started_at, ?),
             ended_at = coalesce(?, ended_at)
           WHERE id = ?`,
        ).run(last, last + offset, plan.status, now, plan.startedAt ?? null, plan.endedAt ?? null, runId);
      }
      return { highestContiguousSeq: last, status: plan.status };
    });
    return Promise.resolve(tx.immediate());
  });
}

/** unnest() of rows (optionally with a leading public seq column) for a multi-row INSERT. */
function unnestRows(rows: Row[], publicSeqs?: number[]) {
  const col = <T>(i: number): T[] => rows.map((r) => r[i] as T);
  return sql`unnest(
    ${publicSeqs ? sql`${publicSeqs}::bigint[], ` : sql``}${col<string>(0)}::text[], ${col<number>(1)}::bigint[],
    ${col<string>(2)}::text[], ${col<number>(3)}::float8[], ${col<string | null>(4)}::text[],
    ${col<string | null>(5)}::text[], ${col<string | null>(6)}::text[], ${col<string | null>(7)}::text[],
    ${col<string | null>(8)}::text[])`;
}

async function appendPostgres(store: Store, runId: string, rows: Row[]): Promise<AppendEventsResult> {
  return store.transaction(async (trx) => {
    const run = await trx
      .selectFrom('runs')
      .select(['status', 'last_seq', 'event_seq'])
      .where('id', '=', runId)
      .forUpdate()
      .executeTakeFirst();
    if (!run) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
    const last0 = Number(run.last_seq);
    const offset = Number(run.event_seq) - last0;
    // Every worker seq up to last_seq is stored once already: those rows are re-sends.
    const resent = rows.filter((r) => r[1] <= last0);
    if (resent.length) {
      const [lo, hi] = resentRange(resent, offset);
      const copies = await sql<StoredCols & { worker_seq: number }>`
        SELECT worker_seq, ${sql.raw(STORED_COLS)} FROM run_events
        WHERE run_id = ${runId} AND seq >= ${lo} AND seq <= ${hi} AND worker_seq IS NOT NULL`.execute(trx);
      const byWorkerSeq = new Map(copies.rows.map((c) => [Number(c.worker_seq), c]));
      for (const r of resent) assertSame(runId, r, byWorkerSeq.get(r[1]));
    }
    const fresh = rows.filter((r) => r[1] > last0);
    if (!fresh.length) return { highestContiguousSeq: last0, status: run.status };
    const waiting = await sql`SELECT 1 FROM run_events_pending WHERE run_id = ${runId} LIMIT 1`.execute(trx);
    let stored: FreshEvent[];
    let last: number;
    if (!waiting.rows.length) {
      // The common case: see appendSqlite.
      last = batchChainEnd(
        last0,
        fresh.map((r) => r[1]),
      );
      const direct = fresh.filter((r) => r[1] <= last);
      const rest = fresh.filter((r) => r[1] > last);
      await sql`INSERT INTO run_events (seq, ${sql.raw(COLS)})
        SELECT * FROM ${unnestRows(
          direct,
          direct.map((r) => r[1] + offset),
        )}`.execute(trx);
      if (rest.length) {
        await sql`INSERT INTO run_events_pending (${sql.raw(COLS)}) SELECT * FROM ${unnestRows(rest)}
          ON CONFLICT (run_id, worker_seq) DO NOTHING`.execute(trx);
      }
      stored = fresh.map((r) => ({ seq: r[1], type: r[2], timestamp: r[3] }));
    } else {
      const inserted = await sql<FreshEvent>`
        INSERT INTO run_events_pending (${sql.raw(COLS)}) SELECT * FROM ${unnestRows(fresh)}
        ON CONFLICT (run_id, worker_seq) DO NOTHING RETURNING worker_seq AS seq, type, timestamp`.execute(trx);
      stored = inserted.rows.map((r) => ({ seq: Number(r.seq), type: r.type, timestamp: Number(r.timestamp) }));
      const insertedSeqs = new Set(stored.map((e) => e.seq));
      const kept = fresh.filter((r) => !insertedSeqs.has(r[1]));
      if (kept.length) {
        const copies = await sql<StoredCols & { worker_seq: number }>`
          SELECT worker_seq, ${sql.raw(STORED_COLS)} FROM run_events_pending
          WHERE run_id = ${runId} AND worker_seq = ANY(${kept.map((r) => r[1])}::bigint[])`.execute(trx);
        const byWorkerSeq = new Map(copies.rows.map((c) => [Number(c.worker_seq), c]));
        for (const r of kept) assertSame(runId, r, byWorkerSeq.get(r[1]));
      }
      const seqs = await sql<{ seq: number }>`
        SELECT worker_seq AS seq FROM run_events_pending WHERE run_id = ${runId} ORDER BY worker_seq`.execute(trx);
      last = contiguousFrom(
        last0,
        seqs.rows.map((r) => Number(r.seq)),
      );
      if (last > last0) {
        await sql`INSERT INTO run_events (seq, ${sql.raw(COLS)})
          SELECT worker_seq + ${offset}, ${sql.raw(COLS)} FROM run_events_pending
          WHERE run_id = ${runId} AND worker_seq <= ${last} ORDER BY worker_seq`.execute(trx);
        await sql`DELETE FROM run_events_pending WHERE run_id = ${runId} AND worker_seq <= ${last}`.execute(trx);
      }
    }
    if (stored.some((e) => TERMINAL_TYPES.includes(e.type))) {
      const terminals = await sql<{ worker_seq: number }>`
        SELECT worker_seq FROM run_events WHERE run_id = ${runId} AND type = ANY(${TERMINAL_TYPES}::text[])
        UNION ALL
        SELECT worker_seq FROM run_events_pending WHERE run_id = ${runId} AND type = ANY(${TERMINAL_TYPES}::text[])`.execute(
        trx,
      );
      assertOneTerminal(
        runId,
        terminals.rows.map((t) => Number(t.worker_seq)),
      );
    }
    const now = store.now();
    const plan = planStatus(run.status, stored, now);
    if (last !== last0 || plan.status !== run.status || plan.startedAt !== undefined) {
      await trx
        .updateTable('runs')
        .set({
          last_seq: last,
          event_seq: last + offset,
          status: plan.status,
          updated_at: now,
          ...(plan.endedAt !== undefined ? { ended_at: plan.endedAt } : {}),
          ...(plan.startedAt !== undefined ? { started_at: sql<number>`coalesce(started_at, ${plan.startedAt})` } : {}),
        })
        .where('id', '=', runId)
        .execute();
    }
    return { highestContiguousSeq: last, status: plan.status };
  });
}

/** Events after public seq `afterSeq`, in seq order (worker and ENGINE events interleaved as they happened). */
export async function listRunEvents(
  store: Store,
  runId: string,
  afterSeq: number,
  first: number,
): Promise<StoredRunEvent[]> {
  const rows = await store.db
    .selectFrom('run_events')
    .selectAll()
    .where('run_id', '=', runId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(first)
    .execute();
  return rows.map((r) => ({
    seq: Number(r.seq),
    workerSeq: r.worker_seq === null ? null : Number(r.worker_seq),
    type: r.type,
    timestamp: Number(r.timestamp),
    stepKey: r.step_key,
    level: r.level,
    message: r.message,
    data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>),
    error: r.error === null ? null : (JSON.parse(r.error) as Record<string, unknown>),
  }));
}
