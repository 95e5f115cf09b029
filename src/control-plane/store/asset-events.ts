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

/**
 * An asset event with a key to index. A key past maxAssetKeyBytes (user code's) is not: PostgreSQL
 * refuses the index entry, which failed the whole batch's asset rows; its event is stored as sent.
 */
const isAssetEvent = (e: AssetEventInput): e is AssetEventInput & { type: AssetEventType; assetKey: string } =>
  (ASSET_EVENT_TYPES as readonly string[]).includes(e.type) &&
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
        type: e.type,
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

/** The asset key of each asset event of a run, by worker seq (for RunEvent.assetKey). */
export async function assetKeysOfRun(store: Store, runId: string): Promise<Map<number, string>> {
  const rows = await store.db
    .selectFrom('asset_events')
    .select(['worker_seq', 'asset_key'])
    .where('run_id', '=', runId)
    .execute();
  return new Map(rows.map((r) => [Number(r.worker_seq), r.asset_key]));
}
