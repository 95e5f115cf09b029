// Assets as the user API shows them: the location snapshot's asset definitions with each one's
// latest stored materialization, and run events with the asset key they were shipped with.
import type { AssetCheckSnapshot, AssetSnapshot } from '../../shared/location-snapshot.js';
import {
  ASSET_EVENT_TYPES,
  assetKeysOfRun,
  checkKey,
  lastCheckEvaluations,
  lastMaterializations,
  type CheckEvaluation,
  type LastMaterialization,
} from '../store/asset-events.js';
import type { LocationView } from '../store/locations.js';
import type { StoredRunEvent } from '../store/run-events.js';
import type { Store } from '../store/store.js';

export interface AssetCheckView extends AssetCheckSnapshot {
  lastEvaluation: CheckEvaluation | null;
}

export interface AssetView extends Omit<AssetSnapshot, 'checks'> {
  groupName: string | undefined;
  lastMaterialization: LastMaterialization | null;
  /** Read only when asked for (Asset.checks): one query for all the location's assets. */
  checks: () => Promise<AssetCheckView[]>;
}

export async function assetsOf(store: Store, loc: LocationView): Promise<AssetView[]> {
  const assets = loc.snapshot?.assets ?? [];
  const last = await lastMaterializations(
    store,
    loc.name,
    assets.map((a) => a.key),
  );
  let evaluations: Promise<Map<string, CheckEvaluation>> | undefined;
  return assets.map((a) => ({
    ...a,
    groupName: a.groupName,
    lastMaterialization: last.get(a.key) ?? null,
    checks: async () => {
      const defined = a.checks ?? [];
      if (!defined.length) return [];
      evaluations ??= lastCheckEvaluations(
        store,
        loc.name,
        assets.flatMap((x) => (x.checks ?? []).map((c) => ({ assetKey: x.key, name: c.name }))),
      );
      const evaluated = await evaluations;
      return defined.map((c) => ({ ...c, lastEvaluation: evaluated.get(checkKey(a.key, c.name)) ?? null }));
    },
  }));
}

/** The events with `assetKey` set on asset events (one lookup per page, only when it has any). */
export async function withAssetKeys(
  store: Store,
  runId: string,
  events: StoredRunEvent[],
): Promise<Array<StoredRunEvent & { assetKey: string | null }>> {
  const isAsset = (e: StoredRunEvent): boolean => (ASSET_EVENT_TYPES as readonly string[]).includes(e.type);
  if (!events.some(isAsset)) return events.map((e) => ({ ...e, assetKey: null }));
  const keys = await assetKeysOfRun(store, runId);
  return events.map((e) => ({
    ...e,
    assetKey: isAsset(e) && e.workerSeq !== null ? (keys.get(e.workerSeq) ?? null) : null,
  }));
}
