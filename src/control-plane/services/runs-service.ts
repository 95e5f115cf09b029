// Run actions with their rules: launchRun validates before writing anything, terminateRun
// cancels an unclaimed launch directly or asks the agent to stop the run, and
// reportRunLaunched records that the agent spawned (or adopted) the run worker.
import { z } from 'zod';
import { OutpostError } from '../../shared/errors.js';
import { checkPartitionKey } from '../core/partition-key.js';
import { isTerminal, type RunStatus } from '../core/run-state.js';
import { requireLocation } from '../store/locations.js';
import {
  appendEngineEvent,
  insertRun,
  lockRun,
  recordLaunchingAgent,
  requireRun,
  setRunStatus,
  type CreateRunInput,
  type RunView,
} from '../store/runs.js';
import type { Store } from '../store/store.js';
import { assertRunWriter } from '../store/ownership.js';
import { cancelQueuedLaunch, enqueue, type Exec, type WorkItemView } from '../store/work-items.js';
import { deepMerge, partitionRun } from './partition-run.js';
import { checkConfigWithLocation, selectedOps, locationKind, resolveLaunchJob } from './launch-target.js';
import { formatZodIssues } from '../../shared/zod-issues.js';
import { configValidatorFor } from './config-validators.js';
import { checkLaunchInput, checkSelection } from '../core/input-rules.js';
import { DEFAULT_API_LIMITS, type ApiLimits } from '../limits.js';

/** The tag that names a run's partition (as sensors and schedules set it). */
export const PARTITION_TAG = 'outpost/partition';

const LaunchInputSchema = z.object({
  location: z.string().min(1),
  /** Optional with `assetSelection`: then the job that materializes the assets. */
  job: z.string().min(1).nullish(),
  /** Asset keys (path parts joined with `/`) to materialize. */
  assetSelection: z.array(z.string().min(1)).nullish(),
  /** Names of the job's ops to run (a Dagster job); the others are not. */
  opSelection: z.array(z.string().min(1)).nullish(),
  runConfig: z.record(z.unknown()).default({}),
  tags: z.record(z.string()).default({}),
  /** Stored as the `outpost/partition` tag (which may carry it instead). */
  partitionKey: z.string().min(1).nullish(),
});
export type LaunchRunInput = z.input<typeof LaunchInputSchema>;

/**
 * Validates location (exists, LOADED), job, partition key and run config (merged over the
 * partition's, asked of the location), then creates the run; no run is written on error.
 */
export async function launchRun(
  store: Store,
  input: LaunchRunInput,
  limits: Pick<ApiLimits, 'maxRunConfigBytes' | 'maxRunTags' | 'maxRunTagsBytes'> = DEFAULT_API_LIMITS,
): Promise<RunView> {
  const parsed = LaunchInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: formatZodIssues(parsed.error),
    });
  }
  const { location, partitionKey } = parsed.data;
  const assetSelection = parsed.data.assetSelection ?? undefined;
  const tags = { ...parsed.data.tags };
  const loc = await requireLocation(store.db, location);
  if (loc.status !== 'LOADED' || !loc.snapshot) {
    throw new OutpostError('LOCATION_NOT_LOADED', {
      detail: `${location} is ${loc.status}${loc.loadError ? `: ${loc.loadError}` : ''}`,
    });
  }
  const job = resolveLaunchJob(
    loc.snapshot,
    location,
    parsed.data.job,
    assetSelection,
    partitionKey ?? parsed.data.tags[PARTITION_TAG],
  );
  const jobDef = loc.snapshot.jobs.find((j) => j.name === job);
  if (!jobDef) {
    throw new OutpostError('UNKNOWN_JOB', {
      detail: `${job} is not in ${location} (jobs: ${loc.snapshot.jobs.map((j) => j.name).join(', ') || 'none'})`,
    });
  }
  const kind = locationKind(loc.spec, loc.snapshot);
  const opSelection =
    parsed.data.opSelection == null ? undefined : selectedOps(jobDef, kind, parsed.data.opSelection, assetSelection);
  // Before the location is asked to plan them: the plan's query carries them too.
  checkSelection({ assetSelection, opSelection });
  // The partition key first: a key outside the set is the problem to name, not the config the
  // partition would have gone with.
  // A Dagster job's run tags go under the launch's own, as Dagster's webserver puts them.
  for (const [k, v] of Object.entries(jobDef.runTags ?? {})) if (!(k in tags)) tags[k] = v;
  const tagged = tags[PARTITION_TAG];
  if (partitionKey && tagged !== undefined && tagged !== partitionKey) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `partitionKey ${JSON.stringify(partitionKey)} and tag ${PARTITION_TAG}=${JSON.stringify(tagged)} disagree`,
    });
  }
  const key = partitionKey ?? tagged;
  // Sets the snapshot lists are checked here; the others (Dagster time windows, multi- and
  // dynamic partitions) by the agent, in the same query that brings the partition's config.
  const partition = checkPartitionKey(jobDef, loc.snapshot.partitions, key, store.now());
  if (!partition.ok) throw new OutpostError(partition.code, { detail: partition.detail });
  // A partition supplies config and tags (only its location knows them); the user's win.
  let runConfig = parsed.data.runConfig;
  if (jobDef.partitions && key !== undefined) {
    const askSet = partition.ok === 'askLocation' ? partition.set : undefined;
    const fromPartition = await partitionRun(store, location, job, key, askSet);
    runConfig = deepMerge(fromPartition.runConfig, runConfig);
    for (const [k, v] of Object.entries(fromPartition.tags)) if (!(k in tags)) tags[k] = v;
  }
  if (kind === 'DAGSTER') {
    // Dagster plans the subset (an op fed by one left out is refused in its words; config for
    // an op left out is ignored, as Dagster ignores it).
    await checkConfigWithLocation(store, { location, job, runConfig, assetSelection, opSelection });
  } else {
    const validate = await configValidatorFor(jobDef.configSchema);
    const problems = validate(runConfig);
    if (problems.length) {
      throw new OutpostError('CONFIG_SCHEMA_VIOLATION', {
        detail: problems.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; '),
        data: { errors: problems },
      });
    }
  }
  if (key !== undefined) tags[PARTITION_TAG] = key;
  // Again with what the job's and the partition's tags and config added: the run's whole input
  // must stay what the agent can launch (a Temporal workflow input), as a tick's runs do.
  checkLaunchInput({ runConfig, tags, assetSelection, opSelection }, limits);
  const { run } = await store.transaction((trx) =>
    createRun(trx, store, {
      location,
      job,
      runConfig,
      tags,
      ...(assetSelection ? { assetSelection } : {}),
      ...(opSelection ? { opSelection } : {}),
    }),
  );
  store.signals.notifyWork();
  return run;
}

/**
 * A QUEUED run and its LAUNCH_RUN item, in the caller's transaction (notify after commit). With
 * a used dedupe key, the existing run is returned and nothing is created.
 */
export async function createRun(
  exec: Exec,
  store: Store,
  input: CreateRunInput,
): Promise<{ run: RunView; created: boolean; launch?: WorkItemView }> {
  const { run, created } = await insertRun(exec, store, input);
  if (!created) return { run, created };
  const { item } = await enqueue(exec, store, {
    kind: 'LAUNCH_RUN',
    payload: {
      runId: run.id,
      location: input.location,
      job: input.job,
      runConfig: input.runConfig,
      tags: input.tags,
      ...(input.assetSelection ? { assetSelection: input.assetSelection } : {}),
      ...(input.opSelection ? { opSelection: input.opSelection } : {}),
    },
    runId: run.id,
    dedupeKey: `launch:${run.id}`,
  });
  return { run, created, launch: item };
}

/**
 * A QUEUED run whose launch nobody claimed yet is canceled here and now. Otherwise the run
 * becomes CANCELING and a TERMINATE_RUN item asks the agent to stop it. Repeats are harmless.
 */
export async function terminateRun(store: Store, runId: string): Promise<RunView> {
  const { run, enqueued } = await store.transaction(async (trx) => {
    // The run before its launch item (store/runs.ts lockRun): cancelQueuedLaunch writes the item.
    await lockRun(trx, store, runId);
    const run = await requireRun(trx, runId);
    if (isTerminal(run.status)) {
      throw new OutpostError('RUN_NOT_TERMINABLE', { detail: `${runId} is ${run.status}` });
    }
    if (run.status === 'CANCELING') return { run, enqueued: false };
    if (run.status === 'QUEUED' && (await cancelQueuedLaunch(trx, store, runId))) {
      const { run: canceled } = await setRunStatus(trx, store, runId, 'CANCELED');
      await appendEngineEvent(trx, store, runId, 'run canceled before launch', 'info');
      return { run: canceled, enqueued: false };
    }
    const { run: canceling } = await setRunStatus(trx, store, runId, 'CANCELING');
    await enqueue(trx, store, { kind: 'TERMINATE_RUN', payload: { runId }, runId, dedupeKey: `terminate:${runId}` });
    return { run: canceling, enqueued: true };
  });
  if (enqueued) store.signals.notifyWork();
  return run;
}

/**
 * QUEUED -> STARTING, recording the reporting agent as the run's only writer from now on
 * (store/ownership.ts). Only the launch's lease holder, or an agent of its token while no
 * launching agent is recorded, may report (else RUN_NOT_OWNED, nothing changed). Later calls by
 * the launching agent (a retried activity) return the current status unchanged.
 */
export async function reportRunLaunched(
  store: Store,
  agentId: string,
  runId: string,
  info: Record<string, unknown> | null | undefined,
): Promise<RunStatus> {
  return store.transaction(async (trx) => {
    const run = await requireRun(trx, runId);
    const { launchedBy } = await assertRunWriter(trx, runId, agentId);
    if (run.status !== 'QUEUED') {
      // The worker's RUN_START landed first (QUEUED -> STARTED): still record who launched it.
      if (!launchedBy) await recordLaunchingAgent(trx, runId, agentId);
      return run.status;
    }
    const { run: after, changed } = await setRunStatus(trx, store, runId, 'STARTING', { agentId });
    if (changed)
      await appendEngineEvent(trx, store, runId, `run worker launched by agent ${agentId}`, 'info', info ?? {});
    return after.status;
  });
}
