// Run events: batched, idempotent ingest keyed by (run_id, worker_seq), with the run's highest
// contiguous worker seq and its status advanced in the same transaction. A worker event gets its
// public seq (shared with ENGINE events: 1..N per run, no gap) when it becomes contiguous, so
// public order follows worker order even when a later batch lands first. SQLite uses prepared
// statements inside a better-sqlite3 transaction; PostgreSQL one multi-row INSERT from unnest().
import { sql } from 'kysely';
import { OutpostError } from '../../shared/errors.js';
import { RUN_EVENT_TYPES } from '../../shared/run-events.js';
import { applyEvent, isTerminal, statusForEvent, type RunStatus } from '../core/run-state.js';
import type { Store } from './store.js';

export interface RunEventInput {
  seq: number;
  type: string;
  timestamp: number;
  stepKey?: string | null;
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

type Row = [string, number, string, number, string | null, string | null, string | null, string | null, string | null];

/** Validated rows, the first copy of each seq only (a batch may repeat one). */
function toRows(runId: string, events: RunEventInput[]): Row[] {
  const seen = new Set<number>();
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
    if (seen.has(e.seq)) return undefined;
    seen.add(e.seq);
    return [
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

/**
 * Public seqs for worker seqs (from, to]: the next ones after `eventSeq`, in worker order.
 * `offset` maps a worker seq to its public seq; `eventSeq` is the run's new public high mark.
 */
export function publishRange(from: number, to: number, eventSeq: number): { offset: number; eventSeq: number } {
  return { offset: eventSeq - from, eventSeq: eventSeq + (to - from) };
}

interface Planned {
  status: RunStatus;
  started: boolean;
  ended: boolean;
}

/** Status after the newly stored events, in seq order. */
function planStatus(current: RunStatus, newEvents: { seq: number; type: string }[]): Planned {
  let status = current;
  for (const e of newEvents.filter((x) => statusForEvent(x.type)).sort((a, b) => a.seq - b.seq)) {
    status = applyEvent(status, e.type);
  }
  return {
    status,
    started: status !== current && (status === 'STARTED' || isTerminal(status)),
    ended: status !== current && isTerminal(status),
  };
}

/** Stores a batch; duplicates are ignored. Returns the highest contiguous seq and the status. */
export async function appendRunEvents(
  store: Store,
  runId: string,
  events: RunEventInput[],
): Promise<AppendEventsResult> {
  const rows = toRows(runId, events);
  const result = store.sqlite ? await appendSqlite(store, runId, rows) : await appendPostgres(store, runId, rows);
  if (events.length) store.signals.notifyRunEvents(runId);
  return result;
}

async function appendSqlite(store: Store, runId: string, rows: Row[]): Promise<AppendEventsResult> {
  const db = store.sqlite!;
  // Hold Kysely's connection so no other statement interleaves with this raw transaction.
  return store.db.connection().execute(() => {
    const insert = db.prepare(
      'INSERT OR IGNORE INTO run_events (run_id, worker_seq, seq, type, timestamp, step_key, level, message, data, error) VALUES (?,?,?,?,?,?,?,?,?,?)',
    );
    const tx = db.transaction((): AppendEventsResult => {
      const run = db.prepare('SELECT status, last_seq, event_seq FROM runs WHERE id = ?').get(runId) as
        { status: RunStatus; last_seq: number; event_seq: number } | undefined;
      if (!run) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
      const fresh: { seq: number; type: string }[] = [];
      const chainEnd = batchChainEnd(
        run.last_seq,
        rows.map((r) => r[1]),
      );
      const offset = Number(run.event_seq) - run.last_seq;
      // Worker seqs from here up that are stored but not numbered (waiting past a gap till now).
      let numberFrom = chainEnd + 1;
      for (const r of rows) {
        const ws = r[1];
        const direct = ws > run.last_seq && ws <= chainEnd;
        const [, , ...rest] = r;
        if (insert.run(runId, ws, direct ? ws + offset : null, ...rest).changes === 1)
          fresh.push({ seq: ws, type: r[2] });
        else if (direct) numberFrom = Math.min(numberFrom, ws);
      }
      const seqs = db
        .prepare('SELECT worker_seq FROM run_events WHERE run_id = ? AND worker_seq > ? ORDER BY worker_seq')
        .pluck()
        .iterate(runId, run.last_seq) as Iterable<number>;
      const last = contiguousFrom(run.last_seq, seqs);
      const plan = planStatus(run.status, fresh);
      if (last !== run.last_seq || plan.status !== run.status) {
        const now = store.now();
        const publish = publishRange(run.last_seq, last, Number(run.event_seq));
        if (last >= numberFrom) {
          db.prepare(
            'UPDATE run_events SET seq = worker_seq + ? WHERE run_id = ? AND worker_seq >= ? AND worker_seq <= ? AND seq IS NULL',
          ).run(publish.offset, runId, numberFrom, last);
        }
        db.prepare(
          `UPDATE runs SET last_seq = ?, event_seq = ?, status = ?, updated_at = ?,
             started_at = CASE WHEN ? AND started_at IS NULL THEN ? ELSE started_at END,
             ended_at = CASE WHEN ? THEN ? ELSE ended_at END
           WHERE id = ?`,
        ).run(last, publish.eventSeq, plan.status, now, plan.started ? 1 : 0, now, plan.ended ? 1 : 0, now, runId);
      }
      return { highestContiguousSeq: last, status: plan.status };
    });
    return Promise.resolve(tx.immediate());
  });
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
    const lastSeq = Number(run.last_seq);
    const col = <T>(i: number): T[] => rows.map((r) => r[i] as T);
    const chainEnd = batchChainEnd(lastSeq, col<number>(1));
    const offset = Number(run.event_seq) - lastSeq;
    const direct = (ws: number): boolean => ws > lastSeq && ws <= chainEnd;
    const publicSeqs = col<number>(1).map((ws) => (direct(ws) ? ws + offset : null));
    const inserted = rows.length
      ? await sql<{ seq: number; type: string }>`
          INSERT INTO run_events (run_id, worker_seq, seq, type, timestamp, step_key, level, message, data, error)
          SELECT ${runId}, * FROM unnest(
            ${col<number>(1)}::bigint[], ${publicSeqs}::bigint[], ${col<string>(2)}::text[], ${col<number>(3)}::float8[],
            ${col<string | null>(4)}::text[], ${col<string | null>(5)}::text[], ${col<string | null>(6)}::text[],
            ${col<string | null>(7)}::text[], ${col<string | null>(8)}::text[])
          ON CONFLICT (run_id, worker_seq) DO NOTHING
          RETURNING worker_seq AS seq, type`.execute(trx)
      : { rows: [] };
    const stored = new Set(inserted.rows.map((r) => Number(r.seq)));
    // Worker seqs from here up that are stored but not numbered (waiting past a gap till now).
    const numberFrom = Math.min(chainEnd + 1, ...col<number>(1).filter((ws) => direct(ws) && !stored.has(ws)));
    const seqs = await sql<{ seq: number }>`
      SELECT worker_seq AS seq FROM run_events WHERE run_id = ${runId} AND worker_seq > ${lastSeq}
      ORDER BY worker_seq`.execute(trx);
    const last = contiguousFrom(
      lastSeq,
      seqs.rows.map((r) => Number(r.seq)),
    );
    const plan = planStatus(
      run.status,
      inserted.rows.map((r) => ({ seq: Number(r.seq), type: r.type })),
    );
    if (last !== lastSeq || plan.status !== run.status) {
      const now = store.now();
      const publish = publishRange(lastSeq, last, Number(run.event_seq));
      if (last >= numberFrom) {
        await sql`
          UPDATE run_events SET seq = worker_seq + ${publish.offset}
          WHERE run_id = ${runId} AND worker_seq >= ${numberFrom} AND worker_seq <= ${last} AND seq IS NULL`.execute(
          trx,
        );
      }
      await trx
        .updateTable('runs')
        .set({
          last_seq: last,
          event_seq: publish.eventSeq,
          status: plan.status,
          updated_at: now,
          ...(plan.ended ? { ended_at: now } : {}),
          ...(plan.started ? { started_at: sql<number>`coalesce(started_at, ${now})` } : {}),
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
