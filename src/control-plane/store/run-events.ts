// Run events: batched, idempotent ingest keyed by the worker's seq, with the run's highest
// contiguous worker seq and its status advanced in the same transaction. A worker event enters
// run_events, with its public seq (shared with ENGINE events: 1..N per run, no gap), when it
// becomes contiguous; until then (a later batch landed first) it waits in run_events_pending.
// So public order follows worker order, and a worker seq up to last_seq is stored exactly once.
// The ingest itself is written per database: dialect/sqlite-run-events.ts, dialect/postgres-run-events.ts.
import { OutpostError } from '../../shared/errors.js';
import { RUN_EVENT_TYPES } from '../../shared/run-events.js';
import { applyEvent, isTerminal, statusForEvent, type RunStatus } from '../core/run-state.js';
import { executionTimes } from '../../shared/run-timing.js';
import { assertSame, colsOf, type Row } from './run-event-conflicts.js';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { Store } from './store.js';
import { recordAssetEvents } from './asset-events.js';
import { storedJson } from './json-text.js';

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
  // The common batch has ascending seqs, so no repeats: one pass, no map of seen seqs.
  const rows = new Array<Row>(events.length);
  let prev = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    checkEvent(e, i);
    if (e.seq <= prev) return toRowsDeduped(runId, events);
    prev = e.seq;
    rows[i] = rowOf(runId, e);
  }
  return rows;
}

/** toRows for a batch whose seqs are not ascending: each repeat must equal its first copy. */
function toRowsDeduped(runId: string, events: RunEventInput[]): Row[] {
  const seen = new Map<number, Row>();
  const rows: Row[] = [];
  events.forEach((e, i) => {
    checkEvent(e, i);
    const row = rowOf(runId, e);
    const first = seen.get(e.seq);
    if (first) assertSame(runId, row, colsOf(first));
    else {
      seen.set(e.seq, row);
      rows.push(row);
    }
  });
  return rows;
}

function checkEvent(e: RunEventInput, i: number): void {
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
}

const rowOf = (runId: string, e: RunEventInput): Row => [
  runId,
  e.seq,
  e.type,
  e.timestamp,
  e.stepKey ?? null,
  e.level ?? null,
  e.message ?? null,
  storedJson(e.data),
  storedJson(e.error),
];

/** Walks seqs (ascending, all > last) while they are consecutive. */
export function contiguousFrom(last: number, seqs: Iterable<number>): number {
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

export type FreshEvent = { seq: number; type: string; timestamp: number };

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

/**
 * Stores a batch; duplicates are ignored. Returns the highest contiguous seq and the status.
 * `writer`: the agent whose batch it is, checked to write the run (RUN_NOT_OWNED) in the
 * transaction that stores it; in-process callers pass none.
 */
export async function appendRunEvents(
  store: Store,
  runId: string,
  events: RunEventInput[],
  writer?: string,
): Promise<AppendEventsResult> {
  const rows = toRows(runId, events);
  const result = await store.dialect.appendRunEvents(store, runId, rows, writer);
  await recordAssetEvents(store, runId, events);
  if (events.length) store.signals.notifyRunEvents(runId);
  return result;
}

/** Columns of run_events_pending, in Row order (the worker's seq is `worker_seq`). */
export const COLS = 'run_id, worker_seq, type, timestamp, step_key, level, message, data, error';

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

/** How many ENGINE events of `runId` have a message starting with `prefix`. */
export async function countEngineEvents(exec: Kysely<Database>, runId: string, prefix: string): Promise<number> {
  const row = await exec
    .selectFrom('run_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('run_id', '=', runId)
    .where('type', '=', 'ENGINE')
    .where('message', 'like', `${prefix}%`)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
