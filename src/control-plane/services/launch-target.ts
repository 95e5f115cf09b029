// What a launch targets, and who checks its config. An asset selection names asset keys; the
// job that materializes them comes from the snapshot's assets (Dagster's implicit asset job,
// `__ASSET_JOB`, when the launch names none). Run config of a Dagster location is checked by
// Dagster itself (an execution-plan query through an agent, as Dagster's webserver asks its code
// server), never by Outpost's strict JSON Schema: the converted schema cannot express Dagster's
// defaults, Permissive or Selector fields, so it would refuse valid config.
import { OutpostError } from '../../shared/errors.js';
import type { LocationSnapshot } from '../../shared/location-snapshot.js';
import {
  codeLocationKind,
  type CodeLocationKind,
  type CodeLocationSpec,
  type WorkItemResult,
} from '../../shared/work-items.js';
import type { Store } from '../store/store.js';
import { itemError, noAnswer, queryCodeLocation } from './query-location.js';

/** Dagster's implicit asset job (`__ASSET_JOB`, or `__ASSET_JOB_<n>` per partitions definition). */
export const IMPLICIT_ASSET_JOB = /^__ASSET_JOB(_\d+)?$/;

/** The location's kind, from its spec, or from its snapshot when the spec does not say. */
export function locationKind(
  spec: Pick<CodeLocationSpec, 'dagster'>,
  snapshot: LocationSnapshot | null,
): CodeLocationKind {
  return codeLocationKind(spec) === 'DAGSTER' || snapshot?.kind === 'dagster' ? 'DAGSTER' : 'OUTPOST';
}

/**
 * The job a launch runs: `job` as given, or (with an asset selection and no job) the job that
 * materializes every selected asset, the implicit asset job first; with a partition key, a
 * partitioned one (Dagster's implicit asset job has no partition set when the location's assets
 * are partitioned differently, while a `define_asset_job` with their partitions has one). Unknown
 * keys, or keys the named job does not materialize, are refused before anything is written.
 */
export function resolveLaunchJob(
  snapshot: LocationSnapshot,
  location: string,
  job: string | null | undefined,
  assetSelection: readonly string[] | null | undefined,
  partitionKey?: string,
): string {
  if (!assetSelection) {
    if (!job)
      throw new OutpostError('INVALID_ARGUMENT', { detail: 'name a `job`, or an `assetSelection` to materialize' });
    return job;
  }
  if (!assetSelection.length) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: '`assetSelection` is empty; omit it to run the whole job' });
  }
  const jobsOf = assetJobs(snapshot, location, assetSelection);
  if (job) {
    checkAssetsInJob(jobsOf, job, assetSelection, '; omit `job` to use the asset job');
    return job;
  }
  const common = jobsOf(assetSelection[0]!).filter((j) => assetSelection.every((k) => jobsOf(k).includes(j)));
  const named = assetSelection.map((k) => JSON.stringify(k)).join(', ');
  if (partitionKey !== undefined) {
    const partitioned = new Set(snapshot.jobs.filter((j) => j.partitions).map((j) => j.name));
    const candidates = common.filter((j) => partitioned.has(j));
    const found = candidates.find((j) => IMPLICIT_ASSET_JOB.test(j)) ?? candidates[0];
    if (found) return found;
    throw new OutpostError('UNKNOWN_PARTITION', {
      detail: `no partitioned job of ${location} materializes all of ${named} (jobs: ${common.join(', ') || 'none'}); define one with their partitions (Dagster: define_asset_job(..., partitions_def=...)) or launch without a partition key`,
    });
  }
  const chosen = common.find((j) => IMPLICIT_ASSET_JOB.test(j)) ?? common[0];
  if (!chosen) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `no one job of ${location} materializes all of ${named} (Dagster puts assets of different partitions in different asset jobs); launch them separately`,
    });
  }
  return chosen;
}

/**
 * A launch's op selection, deduplicated: names of `job`'s ops, of a Dagster location (Outpost's
 * own runs execute whole jobs), without an asset selection (Dagster selects one or the other).
 * Dagster's query syntax (`*op`, `op+`) is refused: the names are the resolved selection.
 */
export function selectedOps(
  job: Pick<LocationSnapshot['jobs'][number], 'name' | 'ops'>,
  kind: CodeLocationKind,
  opSelection: readonly string[],
  assetSelection: readonly string[] | undefined,
): string[] {
  const refuse = (detail: string) => new OutpostError('INVALID_ARGUMENT', { detail });
  if (kind !== 'DAGSTER') throw refuse('`opSelection` runs some ops of a Dagster job; an Outpost job runs whole');
  if (assetSelection) throw refuse('`opSelection` and `assetSelection` cannot be combined: select ops or assets');
  const names = [...new Set(opSelection)];
  if (!names.length) throw refuse('`opSelection` is empty; omit it to run every op');
  const queries = names.filter((n) => /[*+]/.test(n));
  if (queries.length)
    throw refuse(
      `${queries.map((q) => JSON.stringify(q)).join(', ')}: Dagster's selection syntax (*, +) is not taken here; name each op to run`,
    );
  const ops = new Set(job.ops.map((o) => o.name));
  const unknown = names.filter((n) => !ops.has(n));
  if (unknown.length)
    throw refuse(
      `${unknown.map((n) => JSON.stringify(n)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not an op of ${job.name} (ops: ${[...ops].join(', ') || 'none'})`,
    );
  return names;
}

/**
 * The jobs that materialize each selected asset key; UNKNOWN_ASSET naming every key `snapshot`
 * does not have.
 */
function assetJobs(
  snapshot: LocationSnapshot,
  location: string,
  assetSelection: readonly string[],
): (key: string) => string[] {
  const assets = snapshot.assets ?? [];
  const byKey = new Map(assets.map((a) => [a.key, a]));
  const unknown = [...new Set(assetSelection.filter((k) => !byKey.has(k)))];
  if (unknown.length) {
    throw new OutpostError('UNKNOWN_ASSET', {
      detail: `${unknown.map((k) => JSON.stringify(k)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in ${location} (assets: ${assets.map((a) => a.key).join(', ') || 'none'})`,
      data: { unknown },
    });
  }
  return (k) => byKey.get(k)?.jobNames ?? [];
}

function checkAssetsInJob(
  jobsOf: (key: string) => string[],
  job: string,
  assetSelection: readonly string[],
  hint: string,
): void {
  const outside = [...new Set(assetSelection.filter((k) => !jobsOf(k).includes(job)))];
  if (outside.length) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `job ${job} does not materialize ${outside.map((k) => JSON.stringify(k)).join(', ')}${hint}`,
    });
  }
}

/**
 * A run request's asset selection (a schedule's or sensor's), deduplicated: every key an asset
 * of `location` that `job` materializes, else UNKNOWN_ASSET or INVALID_ARGUMENT, as a launch's.
 * Empty is the whole job (undefined), as Dagster's daemon takes it; so is every asset of the job
 * (a sensor that targets a very wide selection would otherwise pass the input limit each tick).
 */
export function requestedAssets(
  snapshot: LocationSnapshot,
  location: string,
  job: string,
  assetSelection: readonly string[],
): string[] | undefined {
  const keys = [...new Set(assetSelection)];
  if (!keys.length) return undefined;
  checkAssetsInJob(assetJobs(snapshot, location, keys), job, keys, '');
  const ofJob = (snapshot.assets ?? []).filter((a) => a.jobNames.includes(job)).length;
  return keys.length === ofJob ? undefined : keys;
}

/**
 * Asks the Dagster location to plan the run with this config (and selection); a FAILED answer
 * is refused with the agent's code and Dagster's own message, an unanswered one with
 * NO_AGENT_ANSWER. Nothing is written either way.
 */
export async function checkConfigWithLocation(
  store: Store,
  input: {
    location: string;
    job: string;
    runConfig: Record<string, unknown>;
    assetSelection?: string[] | undefined;
    opSelection?: string[] | undefined;
  },
  waitMs = store.limits.locationQueryWaitMs,
): Promise<void> {
  const what = `run config of ${input.location}/${input.job}`;
  const item = await queryCodeLocation(
    store,
    {
      location: input.location,
      job: input.job,
      query: 'executionPlan',
      runConfig: input.runConfig,
      ...(input.assetSelection ? { assetSelection: input.assetSelection } : {}),
      ...(input.opSelection ? { opSelection: input.opSelection } : {}),
    },
    waitMs,
  );
  if (item.status === 'COMPLETED') {
    // An agent from before op selection plans the subset, then launches every op: refused.
    const result = item.result as WorkItemResult<'QUERY_CODE_LOCATION'> | null;
    if (input.opSelection && result?.launchesOpSelection !== true)
      throw new OutpostError('AGENT_UPGRADE_REQUIRED', {
        detail: `the agent serving ${input.location} planned the op selection of ${input.job} but is from before op selection: it would run every op`,
      });
    return;
  }
  if (item.status === 'FAILED') throw itemError(item, 'CONFIG_SCHEMA_VIOLATION', what);
  throw await noAnswer(store, item, `${what} (checked by the location)`, waitMs);
}
