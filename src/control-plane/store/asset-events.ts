// Asset events by asset key: every ASSET_MATERIALIZATION / ASSET_OBSERVATION a run ships is
// also recorded here under (run, worker seq), with the run's location and the asset key, so a
// location's assets show their latest materialization by index, not by scanning run_events.
// Written after the batch is stored, idempotently (ON CONFLICT DO NOTHING): a batch the agent
// re-sends because it never saw the answer writes the same rows again, so a crash between the
// two writes loses nothing the agent does not re-send.
import { FIXED_INPUT_LIMITS } from '../limits.js';
import type { Store } from './store.js';

export const ASSET_EVENT_TYPES = ['ASSET_MATERIALIZATION', 'ASSET_OBSERVATION'] as const;
export type AssetEventType = (typeof ASSET_EVENT_TYPES)[number];
/**
 * An ENGINE event shipped with an asset key is a Dagster asset check evaluation, keyed by the
 * checked asset (python/outpost_dagster/event_mapping.py); asset_events records it as this type.
 */
export const ASSET_CHECK_EVALUATION = 'ASSET_CHECK_EVALUATION' as const;
/** How many of an asset's latest check evaluations are read to find each check's latest. */
const CHECK_EVALUATIONS_READ = 200;

export interface AssetEventInput {
  seq: number;
  type: string;
  timestamp: number;
  assetKey?: string | null;
}

export interface LastMaterialization {
  runId: string;
  timestamp: number;
}

/** An asset check's latest evaluation, as its run event says (`data.assetCheck`, `data.metadata`). */
export interface CheckEvaluation {
  runId: string;
  timestamp: number;
  passed: boolean;
  /** ERROR or WARN: what a failure means (WARN: noted, not an error). */
  severity: string;
  metadata: Record<string, unknown> | null;
}

/**
 * An asset event with a key to index. A key past maxAssetKeyBytes (user code's) is not: PostgreSQL
 * refuses the index entry, which failed the whole batch's asset rows; its event is stored as sent.
 */
const isAssetEvent = (e: AssetEventInput): e is AssetEventInput & { assetKey: string } =>
  ((ASSET_EVENT_TYPES as readonly string[]).includes(e.type) || e.type === 'ENGINE') &&
  typeof e.assetKey === 'string' &&
  e.assetKey !== '' &&
  Buffer.byteLength(e.assetKey) <= FIXED_INPUT_LIMITS.maxAssetKeyBytes;

/** Records the batch's asset events (no-op, no query, when it has none). */
export async function recordAssetEvents(
  store: Store,
  runId: string,
  events: readonly AssetEventInput[],
): Promise<void> {
  const assets = events.filter(isAssetEvent);
  if (!assets.length) return;
  const run = await store.db.selectFrom('runs').select('location').where('id', '=', runId).executeTakeFirst();
  if (!run) return;
  await store.db
    .insertInto('asset_events')
    .values(
      assets.map((e) => ({
        run_id: runId,
        worker_seq: e.seq,
        location: run.location,
        asset_key: e.assetKey,
        type: e.type === 'ENGINE' ? ASSET_CHECK_EVALUATION : (e.type as AssetEventType),
        timestamp: e.timestamp,
      })),
    )
    .onConflict((oc) => oc.columns(['run_id', 'worker_seq']).doNothing())
    .execute();
}

/** The latest materialization of each of `keys` in `location` (keys never materialized are absent). */
export async function lastMaterializations(
  store: Store,
  location: string,
  keys: readonly string[],
): Promise<Map<string, LastMaterialization>> {
  const out = new Map<string, LastMaterialization>();
  if (!keys.length) return out;
  // Per key: the index (location, asset_key, type, timestamp) answers each with one seek.
  for (const key of keys) {
    const row = await store.db
      .selectFrom('asset_events')
      .select(['run_id', 'timestamp'])
      .where('location', '=', location)
      .where('asset_key', '=', key)
      .where('type', '=', 'ASSET_MATERIALIZATION')
      .orderBy('timestamp', 'desc')
      .orderBy('run_id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (row) out.set(key, { runId: row.run_id, timestamp: Number(row.timestamp) });
  }
  return out;
}

/**
 * The latest evaluation of each of `names` (checks of `assetKey` in `location`), by check name
 * (checks never evaluated are absent): its latest check events by index, newest first, then
 * those events' data until every name is found.
 */
export async function lastCheckEvaluations(
  store: Store,
  location: string,
  assetKey: string,
  names: readonly string[],
): Promise<Map<string, CheckEvaluation>> {
  const out = new Map<string, CheckEvaluation>();
  if (!names.length) return out;
  const wanted = new Set(names);
  const latest = await store.db
    .selectFrom('asset_events')
    .select(['run_id', 'worker_seq'])
    .where('location', '=', location)
    .where('asset_key', '=', assetKey)
    .where('type', '=', ASSET_CHECK_EVALUATION)
    .orderBy('timestamp', 'desc')
    .orderBy('run_id', 'desc')
    .limit(CHECK_EVALUATIONS_READ)
    .execute();
  for (const ref of latest) {
    if (out.size === wanted.size) break;
    const row = await store.db
      .selectFrom('run_events')
      .select(['timestamp', 'data'])
      .where('run_id', '=', ref.run_id)
      .where('worker_seq', '=', ref.worker_seq)
      .executeTakeFirst();
    const data = row?.data ? (JSON.parse(row.data) as Record<string, unknown>) : null;
    const check = data?.assetCheck as { name?: unknown; passed?: unknown; severity?: unknown } | undefined;
    if (!row || typeof check?.name !== 'string' || !wanted.has(check.name) || out.has(check.name)) continue;
    out.set(check.name, {
      runId: ref.run_id,
      timestamp: Number(row.timestamp),
      passed: check.passed === true,
      severity: typeof check.severity === 'string' ? check.severity : 'ERROR',
      metadata: (data?.metadata as Record<string, unknown> | undefined) ?? null,
    });
  }
  return out;
}

/** The asset key of each asset event of a run, by worker seq (for RunEvent.assetKey). */
export async function assetKeysOfRun(store: Store, runId: string): Promise<Map<number, string>> {
  const rows = await store.db
    .selectFrom('asset_events')
    .select(['worker_seq', 'asset_key'])
    .where('run_id', '=', runId)
    .execute();
  return new Map(rows.map((r) => [Number(r.worker_seq), r.asset_key]));
}
