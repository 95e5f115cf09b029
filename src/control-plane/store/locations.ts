// Code locations: the declared spec and its version (bumped by each deploy or reload, which
// enqueues SYNC_CODE_LOCATION), and the status and definitions snapshot the agent reports.
import { OutpostError } from '../../shared/errors.js';
import { LocationSnapshotSchema, type LocationSnapshot } from '../../shared/location-snapshot.js';
import { CodeLocationSpecSchema, type CodeLocationSpec } from '../../shared/work-items.js';
import type { CodeLocationsTable } from './schema.js';
import type { Store } from './store.js';
import { enqueue, type Exec } from './work-items.js';
import { formatZodIssues } from '../../shared/zod-issues.js';

export interface LocationView {
  name: string;
  spec: CodeLocationSpec;
  version: number;
  status: CodeLocationsTable['status'];
  snapshot: LocationSnapshot | null;
  loadError: string | null;
  createdAt: number;
  updatedAt: number;
}

function toView(r: CodeLocationsTable): LocationView {
  return {
    name: r.name,
    spec: JSON.parse(r.spec) as CodeLocationSpec,
    version: Number(r.version),
    status: r.status,
    snapshot: r.snapshot === null ? null : (JSON.parse(r.snapshot) as LocationSnapshot),
    loadError: r.load_error,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export async function getLocation(exec: Exec, name: string): Promise<LocationView | undefined> {
  const r = await exec.selectFrom('code_locations').selectAll().where('name', '=', name).executeTakeFirst();
  return r ? toView(r) : undefined;
}

export async function requireLocation(exec: Exec, name: string): Promise<LocationView> {
  const l = await getLocation(exec, name);
  if (!l) throw new OutpostError('UNKNOWN_LOCATION', { detail: name });
  return l;
}

export async function listLocations(exec: Exec): Promise<LocationView[]> {
  const rows = await exec.selectFrom('code_locations').selectAll().orderBy('name').execute();
  return rows.map(toView);
}

/** Records the spec (version + 1, LOADING) and enqueues SYNC_CODE_LOCATION for that version. */
export async function deployCodeLocation(store: Store, input: unknown): Promise<LocationView> {
  const parsed = CodeLocationSpecSchema.safeParse(input);
  if (!parsed.success) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: formatZodIssues(parsed.error),
    });
  }
  const spec = parsed.data;
  if (!spec.module && !spec.command?.length) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: 'a code location needs `module` or `command`' });
  }
  const view = await store.transaction(async (trx) => {
    const now = store.now();
    const existing = await getLocation(trx, spec.name);
    // Past the last version of a deleted location of this name too: never a reused version.
    const floor = await trx
      .selectFrom('location_version_floors')
      .select('version')
      .where('name', '=', spec.name)
      .executeTakeFirst();
    const version = Math.max(existing?.version ?? 0, Number(floor?.version ?? 0)) + 1;
    await trx
      .insertInto('code_locations')
      .values({
        name: spec.name,
        spec: JSON.stringify(spec),
        version,
        status: 'LOADING',
        snapshot: existing?.snapshot ? JSON.stringify(existing.snapshot) : null,
        load_error: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ spec: JSON.stringify(spec), version, status: 'LOADING', load_error: null, updated_at: now }),
      )
      .execute();
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

export interface ReportLocationInput {
  location: string;
  version: number;
  status: 'LOADING' | 'LOADED' | 'ERROR';
  snapshot?: unknown;
  error?: string | null;
}

/** Applies an agent's report; returns false (and changes nothing) for a stale version. */
export async function reportCodeLocation(store: Store, input: ReportLocationInput): Promise<boolean> {
  let snapshot: LocationSnapshot | null = null;
  if (input.status === 'LOADED') {
    const parsed = LocationSnapshotSchema.safeParse(input.snapshot);
    if (!parsed.success) {
      throw new OutpostError('INVALID_ARGUMENT', {
        detail: `snapshot: ${formatZodIssues(parsed.error)}`,
      });
    }
    snapshot = parsed.data;
  }
  const loc = await requireLocation(store.db, input.location);
  if (input.version < loc.version) return false;
  const res = await store.db
    .updateTable('code_locations')
    .set({
      status: input.status,
      ...(snapshot ? { snapshot: JSON.stringify(snapshot) } : {}),
      load_error: input.status === 'ERROR' ? (input.error ?? 'unknown load error') : null,
      updated_at: store.now(),
    })
    .where('name', '=', input.location)
    .where('version', '<=', input.version)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Removes a location and its schedule/sensor state; runs stay. Agents drop its code server. */
export async function deleteCodeLocation(store: Store, name: string): Promise<LocationView> {
  const view = await store.transaction(async (trx) => {
    const loc = await requireLocation(trx, name);
    await trx.deleteFrom('instigators').where('location', '=', name).execute();
    await trx.deleteFrom('code_locations').where('name', '=', name).execute();
    // A later deploy under this name goes past this version: agents tell deployments apart
    // by (name, version), and this one's SYNC item must not vouch for the next.
    await trx
      .insertInto('location_version_floors')
      .values({ name, version: loc.version })
      .onConflict((oc) => oc.column('name').doUpdateSet({ version: loc.version }))
      .execute();
    return loc;
  });
  store.signals.notifyWork();
  return view;
}
