// Asset events by asset key: every ASSET_MATERIALIZATION / ASSET_OBSERVATION a run ships, and
// every asset check evaluation (with the check's name, outcome and metadata), is also recorded
// here under (run, worker seq), with the run's location and the asset key, so a location's
// assets show their latest materialization and check evaluations without reading run_events.
// Written after the batch is stored, idempotently (ON CONFLICT DO NOTHING): a batch the agent
// re-sends because it never saw the answer writes the same rows again, so a crash between the
// two writes loses nothing the agent does not re-send.
import { FIXED_INPUT_LIMITS } from '../limits.js';
import { JsonText } from './json-text.js';
import type { Store } from './store.js';

export const ASSET_EVENT_TYPES = ['ASSET_MATERIALIZATION', 'ASSET_OBSERVATION'] as const;
export type AssetEventType = (typeof ASSET_EVENT_TYPES)[number];
/**
 * An ENGINE event whose data carries `assetCheck` (its name, passed, severity) is a Dagster asset
 * check evaluation, keyed by the checked asset (python/outpost_dagster/event_mapping.py);
 * asset_events records it as this type, with the check's name, outcome and metadata.
 */
export const ASSET_CHECK_EVALUATION = 'ASSET_CHECK_EVALUATION' as const;

export interface AssetEventInput {
  seq: number;
  type: string;
  timestamp: number;
  assetKey?: string | null;
  data?: unknown;
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

/** What asset_events keeps of a check evaluation (null for any other event). */
interface CheckColumns {
  check_name: string;
  check_passed: number;
  check_severity: string;
  check_metadata: string | null;
}

/**
 * The check an ENGINE event's data evaluates: `data.assetCheck` with a string name. Any other
 * ENGINE event (one with an asset key but no check, say) is not a check evaluation.
 */
export function checkColumnsOf(data: unknown): CheckColumns | null {
  const value = data instanceof JsonText ? (JSON.parse(data.text) as unknown) : data;
  if (typeof value !== 'object' || value === null) return null;
  const { assetCheck, metadata } = value as { assetCheck?: unknown; metadata?: unknown };
  if (typeof assetCheck !== 'object' || assetCheck === null) return null;
  const check = assetCheck as { name?: unknown; passed?: unknown; severity?: unknown };
  if (typeof check.name !== 'string' || check.name === '') return null;
  return {
    check_name: check.name,
    check_passed: check.passed === true ? 1 : 0,
    check_severity: typeof check.severity === 'string' ? check.severity : 'ERROR',
    check_metadata: typeof metadata === 'object' && metadata !== null ? JSON.stringify(metadata) : null,
  };
}

const NO_CHECK = { check_name: null, check_passed: null, check_severity: null, check_metadata: null };

/**
 * An asset event with a key to index. A key past maxAssetKeyBytes (user code's) is not: PostgreSQL
 * refuses the index entry, which failed the whole batch's asset rows; its event is stored as sent.
 */
const hasIndexableKey = (e: AssetEventInput): e is AssetEventInput & { assetKey: string } =>
  typeof e.assetKey === 'string' &&
  e.assetKey !== '' &&
  Buffer.byteLength(e.assetKey) <= FIXED_INPUT_LIMITS.maxAssetKeyBytes;

/** Records the batch's asset events (no-op, no query, when it has none). */
export async function recordAssetEvents(
  store: Store,
  runId: string,
  events: readonly AssetEventInput[],
): Promise<void> {
  const rows = [];
  for (const e of events) {
    if (!hasIndexableKey(e)) continue;
    if ((ASSET_EVENT_TYPES as readonly string[]).includes(e.type)) {
      rows.push({ e, type: e.type as AssetEventType, check: NO_CHECK });
    } else if (e.type === 'ENGINE') {
      const check = checkColumnsOf(e.data);
      if (check) rows.push({ e, type: ASSET_CHECK_EVALUATION, check });
    }
  }
  if (!rows.length) return;
  const run = await store.db.selectFrom('runs').select('location').where('id', '=', runId).executeTakeFirst();
  if (!run) return;
  await store.db
    .insertInto('asset_events')
    .values(
      rows.map(({ e, type, check }) => ({
        run_id: runId,
        worker_seq: e.seq,
        location: run.location,
        asset_key: e.assetKey,
        type,
        timestamp: e.timestamp,
        ...check,
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

/** The key of an asset check in lastCheckEvaluations' answer. */
export const checkKey = (assetKey: string, checkName: string): string => JSON.stringify([assetKey, checkName]);

/** Checks read per query: SQLite allows at most 500 SELECTs in one compound SELECT. */
const CHECKS_PER_QUERY = 400;

/**
 * The latest evaluation of each of `checks` (asset key, check name) in `location`, by
 * checkKey (checks never evaluated are absent): one query per 400 checks, a UNION ALL of one
 * index seek per check (asset_events_checks), so its cost follows the checks, not how often
 * they ran.
 */
export async function lastCheckEvaluations(
  store: Store,
  location: string,
  checks: ReadonlyArray<{ assetKey: string; name: string }>,
): Promise<Map<string, CheckEvaluation>> {
  const out = new Map<string, CheckEvaluation>();
  for (let i = 0; i < checks.length; i += CHECKS_PER_QUERY) {
    const arms = checks
      .slice(i, i + CHECKS_PER_QUERY)
      .map((c, n) =>
        store.db
          .selectFrom((db) =>
            db
              .selectFrom('asset_events')
              .select([
                'asset_key',
                'check_name',
                'run_id',
                'timestamp',
                'check_passed',
                'check_severity',
                'check_metadata',
              ])
              .where('location', '=', location)
              .where('type', '=', ASSET_CHECK_EVALUATION)
              .where('asset_key', '=', c.assetKey)
              .where('check_name', '=', c.name)
              .orderBy('timestamp', 'desc')
              .orderBy('run_id', 'desc')
              .orderBy('worker_seq', 'desc')
              .limit(1)
              .as(`c${n}`),
          )
          .selectAll(),
      );
    const rows = await arms
      .slice(1)
      .reduce((q, arm) => q.unionAll(arm), arms[0]!)
      .execute();
    for (const r of rows) {
      out.set(checkKey(r.asset_key, r.check_name!), {
        runId: r.run_id,
        timestamp: Number(r.timestamp),
        passed: Number(r.check_passed) === 1,
        severity: r.check_severity ?? 'ERROR',
        metadata: r.check_metadata ? (JSON.parse(r.check_metadata) as Record<string, unknown>) : null,
      });
    }
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
