// Deploying, reloading and deleting a code location: each writes the location and what goes
// with it (the SYNC_CODE_LOCATION item that tells agents, the schedule and sensor state) in one
// transaction, then wakes pollers.
import { deleteInstigatorsOf } from '../store/instigators.js';
import {
  parseLocationSpec,
  removeLocationRow,
  requireLocation,
  writeLocationVersion,
  type LocationView,
} from '../store/locations.js';
import type { Store } from '../store/store.js';
import { enqueue } from '../store/work-items.js';

/** Records the spec (version + 1, LOADING) and enqueues SYNC_CODE_LOCATION for that version. */
export async function deployCodeLocation(store: Store, input: unknown): Promise<LocationView> {
  const spec = parseLocationSpec(input);
  const view = await store.transaction(async (trx) => {
    const version = await writeLocationVersion(trx, store, spec);
    await enqueue(trx, store, {
      kind: 'SYNC_CODE_LOCATION',
      payload: { location: spec.name, version },
      dedupeKey: `sync:${spec.name}:${version}`,
    });
    return requireLocation(trx, spec.name);
  });
  store.signals.notifyWork();
  return view;
}

/** Re-syncs a location with its current spec (a new version, so the agent reloads it). */
export async function reloadCodeLocation(store: Store, name: string): Promise<LocationView> {
  const loc = await requireLocation(store.db, name);
  return deployCodeLocation(store, loc.spec);
}

/** Removes a location and its schedule/sensor state; runs stay. Agents drop its code server. */
export async function deleteCodeLocation(store: Store, name: string): Promise<LocationView> {
  const view = await store.transaction(async (trx) => {
    const loc = await requireLocation(trx, name);
    await deleteInstigatorsOf(trx, name);
    await removeLocationRow(trx, loc);
    return loc;
  });
  store.signals.notifyWork();
  return view;
}
