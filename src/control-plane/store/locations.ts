// Code locations: the declared spec and its version (bumped by each deploy or reload; the deploy
// itself, with its SYNC_CODE_LOCATION item, is services/locations-service.ts), and the status
// and definitions snapshot the agent reports.
import { isAbsolute, resolve } from 'node:path';
import { isOutpostError, OutpostError } from '../../shared/errors.js';
import { checkDefinitionNames } from '../core/input-rules.js';
import { boundPartitionKeys, LocationSnapshotSchema, type LocationSnapshot } from '../../shared/location-snapshot.js';
import { CodeLocationSpecSchema, type CodeLocationSpec } from '../../shared/work-items.js';
import type { CodeLocationsTable } from './schema.js';
import type { Store } from './store.js';
import type { Exec } from './work-items.js';
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

/**
 * The location's row (undefined if it has none), read once its name is locked until the
 * transaction ends. Every deploy, reload and delete takes this lock first, so writers of one name
 * run one after another (on SQLite the write transaction has them so anyway) and each builds on
 * what the one before committed, not on what it read before.
 */
export async function lockLocation(exec: Exec, store: Store, name: string): Promise<LocationView | undefined> {
  await lockName(exec, store, name);
  return getLocation(exec, name);
}

/**
 * Locks `name` until the transaction ends and returns its version floor (0 if no location of
 * this name was deleted). The lock is the name's floor row (PostgreSQL FOR UPDATE), created if
 * missing, not the location's own row: a name with no row (new, or deleted) would lock nothing,
 * and two deploys of it would both write the same version under one SYNC item.
 */
async function lockName(exec: Exec, store: Store, name: string): Promise<number> {
  // A racing insert of the same name waits here until the other transaction ends.
  await exec
    .insertInto('location_version_floors')
    .values({ name, version: 0 })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const floor = await store.dialect
    .lockForUpdate(exec.selectFrom('location_version_floors').select('version').where('name', '=', name))
    .executeTakeFirstOrThrow();
  return Number(floor.version);
}

export async function listLocations(exec: Exec): Promise<LocationView[]> {
  const rows = await exec.selectFrom('code_locations').selectAll().orderBy('name').execute();
  return rows.map(toView);
}

/**
 * Records `spec` as the location's next version, LOADING (its last snapshot kept until the new
 * one loads). Returns the version: past any earlier one of this name, deleted ones too.
 */
export async function writeLocationVersion(exec: Exec, store: Store, spec: CodeLocationSpec): Promise<number> {
  const now = store.now();
  // Past the last version of a deleted location of this name too: never a reused version.
  const floor = await lockName(exec, store, spec.name);
  const existing = await getLocation(exec, spec.name);
  const version = Math.max(existing?.version ?? 0, floor) + 1;
  await exec
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
  return version;
}

/** Parses a deploy's input into a spec, or INVALID_ARGUMENT naming what is wrong. */
export function parseLocationSpec(input: unknown): CodeLocationSpec {
  const parsed = CodeLocationSpecSchema.safeParse(input);
  if (!parsed.success) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: formatZodIssues(parsed.error),
    });
  }
  const spec = normalizeDagster(parsed.data);
  if (!spec.module && !spec.command?.length && !spec.dagster) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: 'a code location needs `module`, `command` or `dagster`' });
  }
  return spec;
}

/**
 * A Dagster spec as stored: `dagster` excludes `module`, `command` and a top-level
 * `workingDirectory` (it has its own), and a relative `pythonFile` under an absolute
 * `dagster.workingDirectory` is stored resolved. Under a relative (or no) working directory it
 * stays relative: the agent starts the code server in that directory (resolved against its own),
 * so Dagster resolves the file against it.
 */
function normalizeDagster(spec: CodeLocationSpec): CodeLocationSpec {
  const d = spec.dagster;
  if (!d) return spec;
  const clash = (['module', 'command', 'workingDirectory'] as const).filter((k) => spec[k] !== undefined);
  if (clash.length) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `a Dagster location takes no ${clash.map((k) => `\`${k}\``).join(', ')} (its working directory is dagster.workingDirectory)`,
    });
  }
  if (d.pythonFile && !isAbsolute(d.pythonFile) && d.workingDirectory && isAbsolute(d.workingDirectory)) {
    return { ...spec, dagster: { ...d, pythonFile: resolve(d.workingDirectory, d.pythonFile) } };
  }
  return spec;
}

export interface ReportLocationInput {
  location: string;
  version: number;
  status: 'LOADING' | 'LOADED' | 'ERROR';
  snapshot?: unknown;
  error?: string | null;
}

/** The error a snapshot's names past maxDefinitionNameLength make, else undefined. */
function definitionNamesProblem(snapshot: LocationSnapshot): OutpostError | undefined {
  try {
    checkDefinitionNames(snapshot);
    return undefined;
  } catch (err) {
    if (isOutpostError(err)) return err;
    throw err;
  }
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
    // Stored bounded, whatever the agent's version sent (an agent lists a static set whole).
    snapshot = boundPartitionKeys(parsed.data);
  }
  // Names past their limit are the location's own doing, as a load error is: it is ERROR,
  // naming the limit, and its definitions are not stored.
  const named = snapshot ? definitionNamesProblem(snapshot) : undefined;
  const status = named ? 'ERROR' : input.status;
  const error = named ? `${named.code}: ${named.message}` : input.error;
  const loc = await requireLocation(store.db, input.location);
  if (input.version < loc.version) return false;
  const res = await store.db
    .updateTable('code_locations')
    .set({
      status,
      ...(snapshot && !named ? { snapshot: JSON.stringify(snapshot) } : {}),
      load_error: status === 'ERROR' ? (error ?? 'unknown load error') : null,
      updated_at: store.now(),
    })
    .where('name', '=', input.location)
    .where('version', '<=', input.version)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Deletes the location's row. A later deploy under this name goes past its version: agents
 * tell deployments apart by (name, version), and this one's SYNC item must not vouch for the next.
 */
export async function removeLocationRow(exec: Exec, loc: LocationView): Promise<void> {
  await exec.deleteFrom('code_locations').where('name', '=', loc.name).execute();
  await exec
    .insertInto('location_version_floors')
    .values({ name: loc.name, version: loc.version })
    .onConflict((oc) => oc.column('name').doUpdateSet({ version: loc.version }))
    .execute();
}

/** A failed load of `version` (if it is still the one loading) -> ERROR with its reason. */
export async function markLocationError(
  exec: Exec,
  store: Store,
  location: string,
  version: number,
  error: string,
): Promise<void> {
  await exec
    .updateTable('code_locations')
    .set({ status: 'ERROR', load_error: error, updated_at: store.now() })
    .where('name', '=', location)
    .where('version', '=', version)
    .where('status', '=', 'LOADING')
    .execute();
}
