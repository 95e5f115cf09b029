// Deploying, reloading and deleting a code location: each writes the location and what goes
// with it (the SYNC_CODE_LOCATION item that tells agents, the schedule and sensor state) in one
// transaction, then wakes pollers.
import { deleteInstigatorsOf } from '../store/instigators.js';
import { OutpostError } from '../../shared/errors.js';
import type { CodeLocationSpec } from '../../shared/work-items.js';
import {
  lockLocation,
  parseLocationSpec,
  removeLocationRow,
  requireLocation,
  writeLocationVersion,
  type LocationView,
} from '../store/locations.js';
import type { Store } from '../store/store.js';
import { enqueue, type Exec } from '../store/work-items.js';

/** Records the spec (version + 1, LOADING) and enqueues SYNC_CODE_LOCATION for that version. */
export async function deployCodeLocation(store: Store, input: unknown): Promise<LocationView> {
  const spec = parseLocationSpec(input);
  const view = await store.transaction((trx) => deployIn(trx, store, spec));
  store.signals.notifyWork();
  return view;
}

/**
 * Re-syncs a location with its current spec (a new version, so the agent reloads it). The spec
 * is read in the same transaction, row locked: a deploy landing first is reloaded, not undone.
 */
export async function reloadCodeLocation(store: Store, name: string): Promise<LocationView> {
  const view = await store.transaction(async (trx) => {
    const loc = await lockLocation(trx, store, name);
    if (!loc) throw new OutpostError('UNKNOWN_LOCATION', { detail: name });
    return deployIn(trx, store, loc.spec);
  });
  store.signals.notifyWork();
  return view;
}

async function deployIn(trx: Exec, store: Store, spec: CodeLocationSpec): Promise<LocationView> {
  const version = await writeLocationVersion(trx, store, spec);
  await enqueue(trx, store, {
    kind: 'SYNC_CODE_LOCATION',
    payload: { location: spec.name, version },
    dedupeKey: `sync:${spec.name}:${version}`,
  });
  return requireLocation(trx, spec.name);
}

/** Removes a location and its schedule/sensor state; runs stay. Agents drop its code server. */
export async function deleteCodeLocation(store: Store, name: string): Promise<LocationView> {
  const view = await store.transaction(async (trx) => {
    // Locked: the version floor recorded below must be the version of the row deleted.
    const loc = await lockLocation(trx, store, name);
    if (!loc) throw new OutpostError('UNKNOWN_LOCATION', { detail: name });
    await deleteInstigatorsOf(trx, name);
    await removeLocationRow(trx, loc);
    return loc;
  });
  store.signals.notifyWork();
  return view;
}
