// The run-event ingest (run-events.ts) on PostgreSQL: the run row locked FOR UPDATE, then
// unnest() multi-row INSERTs, ON CONFLICT DO NOTHING for re-sent events.
import { sql } from 'kysely';
import { OutpostError } from '../../../shared/errors.js';
import { TERMINAL_EVENT_TYPE_LIST, TERMINAL_EVENT_TYPES } from '../../../shared/run-events.js';
import {
  assertOneTerminal,
  assertSame,
  resentRange,
  STORED_COLS,
  type Row,
  type StoredCols,
} from '../run-event-conflicts.js';
import {
  batchChainEnd,
  COLS,
  contiguousFrom,
  planStatus,
  type AppendEventsResult,
  type FreshEvent,
} from '../run-events.js';
import { assertRunWriterIn } from '../ownership.js';
import type { Store } from '../store.js';

/** unnest() of rows (optionally with a leading public seq column) for a multi-row INSERT. */
function unnestRows(rows: Row[], publicSeqs?: number[]) {
  const col = <T>(i: number): T[] => rows.map((r) => r[i] as T);
  return sql`unnest(
    ${publicSeqs ? sql`${publicSeqs}::bigint[], ` : sql``}${col<string>(0)}::text[], ${col<number>(1)}::bigint[],
    ${col<string>(2)}::text[], ${col<number>(3)}::float8[], ${col<string | null>(4)}::text[],
    ${col<string | null>(5)}::text[], ${col<string | null>(6)}::text[], ${col<string | null>(7)}::text[],
    ${col<string | null>(8)}::text[])`;
}

export async function appendRunEventsPostgres(
  store: Store,
  runId: string,
  rows: Row[],
  writer?: string,
): Promise<AppendEventsResult> {
  return store.transaction(async (trx) => {
    const run = await trx
      .selectFrom('runs')
      .select(['status', 'last_seq', 'event_seq', 'agent_id'])
      .where('id', '=', runId)
      .forUpdate()
      .executeTakeFirst();
    if (!run) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
    if (writer !== undefined) await assertRunWriterIn(store, trx, runId, writer, run.agent_id);
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
      // The common case: see sqlite-run-events.ts.
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
    if (stored.some((e) => TERMINAL_EVENT_TYPES.has(e.type))) {
      const terminals = await sql<{ worker_seq: number }>`
        SELECT worker_seq FROM run_events WHERE run_id = ${runId} AND type = ANY(${TERMINAL_EVENT_TYPE_LIST}::text[])
        UNION ALL
        SELECT worker_seq FROM run_events_pending WHERE run_id = ${runId} AND type = ANY(${TERMINAL_EVENT_TYPE_LIST}::text[])`.execute(
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
