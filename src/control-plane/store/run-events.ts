// Run events: batched, idempotent ingest keyed by (run_id, seq), with the run's highest
// contiguous seq and its status advanced in the same transaction. Identical re-sends are
// ignored; a different event at a stored seq, or a second terminal event, refuses the batch. SQLite uses one prepared
// statement inside a better-sqlite3 transaction; PostgreSQL one multi-row INSERT from unnest().
import { sql } from 'kysely';
import { OutpostError } from '../../shared/errors.js';
import { RUN_EVENT_TYPES } from '../../shared/run-events.js';
import { applyEvent, isTerminal, statusForEvent, type RunStatus } from '../core/run-state.js';
import { ENGINE_SEQ_BASE } from '../../shared/run-events.js';
import { executionTimes } from '../../shared/run-timing.js';
import type { RunEventsTable } from './schema.js';
import type { Store } from './store.js';
import type { Exec } from './work-items.js';

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
  seq: number;
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

function toRows(runId: string, events: RunEventInput[]): Row[] {
  return events.map((e, i) => {
    if (!Number.isInteger(e.seq) || e.seq < 1 || e.seq >= ENGINE_SEQ_BASE) {
      throw new OutpostError('INVALID_ARGUMENT', {
        detail: `events[${i}].seq must be an integer in 1..${ENGINE_SEQ_BASE - 1}`,
      });
    }
    if (!EVENT_TYPES.has(e.type)) {
      throw new OutpostError('INVALID_ARGUMENT', {
        detail: `events[${i}].type ${JSON.stringify(e.type)} is not a run event type`,
      });
    }
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
}

const TERMINAL_TYPES = ['RUN_SUCCESS', 'RUN_FAILURE', 'RUN_CANCELED'];

type StoredCols = Pick<RunEventsTable, 'type' | 'timestamp' | 'step_key' | 'level' | 'message' | 'data' | 'error'>;

/**
 * Events are immutable: a re-sent event must equal the stored one (exactly-once shipping
 * re-sends), anything else at a stored seq is a conflict, refused with the whole batch.
 */
function assertSame(runId: string, row: Row, stored: StoredCols | undefined): void {
  const same =
    stored !== undefined &&
    stored.type === row[2] &&
    Number(stored.timestamp) === row[3] &&
    stored.step_key === row[4] &&
    stored.level === row[5] &&
    stored.message === row[6] &&
    stored.data === row[7] &&
    stored.error === row[8];
  if (!same) {
    throw new OutpostError('RUN_EVENT_CONFLICT', {
      detail: `run ${runId} seq ${row[1]}: a different event is stored at this seq`,
    });
  }
}

/** A run ends once: a terminal event at a second seq is refused with the whole batch. */
function assertOneTerminal(runId: string, terminalSeqs: number[]): void {
  if (new Set(terminalSeqs.map(Number)).size > 1) {
    throw new OutpostError('RUN_EVENT_CONFLICT', {
      detail: `run ${runId} already has a terminal event (seqs ${[...new Set(terminalSeqs.map(Number))].sort((a, b) => a - b).join(', ')})`,
    });
  }
}

/** Walks seqs (ascending, all > last) while they are consecutive. */
function contiguousFrom(last: number, seqs: Iterable<number>): number {
  for (const s of seqs) {
    if (Number(s) !== last + 1) break;
    last++;
  }
  return last;
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

/** Stores a batch; identical duplicates are ignored, conflicts refused (RUN_EVENT_CONFLICT). Returns the highest contiguous seq and the status. */
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
      'INSERT OR IGNORE INTO run_events (run_id, seq, type, timestamp, step_key, level, message, data, error) VALUES (?,?,?,?,?,?,?,?,?)',
    );
    const tx = db.transaction((): AppendEventsResult => {
      const run = db.prepare('SELECT status, last_seq FROM runs WHERE id = ?').get(runId) as
        { status: RunStatus; last_seq: number } | undefined;
      if (!run) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
      const fresh: FreshEvent[] = [];
      const stored = db.prepare(
        'SELECT type, timestamp, step_key, level, message, data, error FROM run_events WHERE run_id = ? AND seq = ?',
      );
      for (const r of rows) {
        if (insert.run(r).changes === 1) fresh.push({ seq: r[1], type: r[2], timestamp: r[3] });
        else assertSame(runId, r, stored.get(runId, r[1]) as StoredCols | undefined);
      }
      if (fresh.some((e) => TERMINAL_TYPES.includes(e.type))) {
        const terminals = db
          .prepare(
            `SELECT seq FROM run_events WHERE run_id = ? AND seq < ? AND type IN (${TERMINAL_TYPES.map(() => '?').join(',')})`,
          )
          .pluck()
          .all(runId, ENGINE_SEQ_BASE, ...TERMINAL_TYPES) as number[];
        assertOneTerminal(runId, terminals);
      }
      const seqs = db
        .prepare('SELECT seq FROM run_events WHERE run_id = ? AND seq > ? AND seq < ? ORDER BY seq')
        .pluck()
        .iterate(runId, run.last_seq, ENGINE_SEQ_BASE) as Iterable<number>;
      const last = contiguousFrom(run.last_seq, seqs);
      const now = store.now();
      const plan = planStatus(run.status, fresh, now);
      if (last !== run.last_seq || plan.status !== run.status || plan.startedAt !== undefined) {
        db.prepare(
          `UPDATE runs SET last_seq = ?, status = ?, updated_at = ?,
             started_at = coalesce(started_at, ?),
             ended_at = coalesce(?, ended_at)
           WHERE id = ?`,
        ).run(last, plan.status, now, plan.startedAt ?? null, plan.endedAt ?? null, runId);
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
      .select(['status', 'last_seq'])
      .where('id', '=', runId)
      .forUpdate()
      .executeTakeFirst();
    if (!run) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
    const col = <T>(i: number): T[] => rows.map((r) => r[i] as T);
    const inserted = rows.length
      ? await sql<{ seq: number; type: string; timestamp: number }>`
          INSERT INTO run_events (run_id, seq, type, timestamp, step_key, level, message, data, error)
          SELECT ${runId}, * FROM unnest(
            ${col<number>(1)}::bigint[], ${col<string>(2)}::text[], ${col<number>(3)}::float8[],
            ${col<string | null>(4)}::text[], ${col<string | null>(5)}::text[], ${col<string | null>(6)}::text[],
            ${col<string | null>(7)}::text[], ${col<string | null>(8)}::text[])
          ON CONFLICT (run_id, seq) DO NOTHING
          RETURNING seq, type, timestamp`.execute(trx)
      : { rows: [] };
    await assertPostgresBatch(trx, runId, rows, inserted.rows);
    const lastSeq = Number(run.last_seq);
    const seqs = await sql<{ seq: number }>`
      SELECT seq FROM run_events WHERE run_id = ${runId} AND seq > ${lastSeq} AND seq < ${ENGINE_SEQ_BASE} ORDER BY seq`.execute(
      trx,
    );
    const last = contiguousFrom(
      lastSeq,
      seqs.rows.map((r) => Number(r.seq)),
    );
    const now = store.now();
    const plan = planStatus(
      run.status,
      inserted.rows.map((r) => ({ seq: Number(r.seq), type: r.type, timestamp: Number(r.timestamp) })),
      now,
    );
    if (last !== lastSeq || plan.status !== run.status || plan.startedAt !== undefined) {
      await trx
        .updateTable('runs')
        .set({
          last_seq: last,
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

/** Conflicts of a PostgreSQL batch: rows not inserted must equal the stored ones; one terminal event. */
async function assertPostgresBatch(
  trx: Exec,
  runId: string,
  rows: Row[],
  inserted: { seq: number | string; type: string }[],
): Promise<void> {
  const fresh = new Set(inserted.map((r) => Number(r.seq)));
  // A row not inserted (or a second row for a seq inserted by this batch) is a re-send.
  const resent = rows.filter((r) => !fresh.delete(r[1]));
  if (resent.length) {
    const stored = await trx
      .selectFrom('run_events')
      .select(['seq', 'type', 'timestamp', 'step_key', 'level', 'message', 'data', 'error'])
      .where('run_id', '=', runId)
      .where('seq', 'in', [...new Set(resent.map((r) => r[1]))])
      .execute();
    const bySeq = new Map(stored.map((e) => [Number(e.seq), e]));
    for (const r of resent) assertSame(runId, r, bySeq.get(r[1]));
  }
  if (inserted.some((e) => TERMINAL_TYPES.includes(e.type))) {
    const terminals = await trx
      .selectFrom('run_events')
      .select('seq')
      .where('run_id', '=', runId)
      .where('seq', '<', ENGINE_SEQ_BASE)
      .where('type', 'in', TERMINAL_TYPES)
      .execute();
    assertOneTerminal(
      runId,
      terminals.map((t) => Number(t.seq)),
    );
  }
}

/** Events after `afterSeq`, in seq order (worker events first, then control-plane ENGINE events). */
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
    type: r.type,
    timestamp: Number(r.timestamp),
    stepKey: r.step_key,
    level: r.level,
    message: r.message,
    data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>),
    error: r.error === null ? null : (JSON.parse(r.error) as Record<string, unknown>),
  }));
}
