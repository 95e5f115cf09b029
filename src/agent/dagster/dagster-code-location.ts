// A Dagster code location as the work items see it (structurally the CodeLocationPort activities
// declare; src/agent never imports activities/): sync, schedule and sensor evaluation, partition
// and execution-plan queries, each one a call to the location's `dagster api grpc` server. Names
// are checked against the loaded snapshot first (UNKNOWN_*), in-band Dagster errors become
// USER_CODE_ERROR with Dagster's class and message, an invalid run config CONFIG_SCHEMA_VIOLATION
// with Dagster's own text, and results Outpost cannot act on fail loudly (never dropped).
import type { Logger } from '../../shared/logger.js';
import { OutpostError, isOutpostError } from '../../shared/errors.js';
import type { RunRequest, WorkItemPayload, WorkItemResult } from '../../shared/work-items.js';
import type { AssetSnapshot } from '../../shared/location-snapshot.js';
import { backoffDelay, sleep } from '../../shared/backoff.js';
import { skipReasonOf } from '../../shared/message-limits.js';
import { formatDagsterError, toUserCodeError } from './dagster-error.js';
import type { DagsterCodeServer } from './dagster-code-server.js';
import { DAGSTER_DEFAULT_TIMEOUT_MS } from './dagster-grpc-client.js';
import type { DagsterLoaded } from './dagster-load.js';
import { answerPartitionQuery } from './dagster-partition-query.js';
import * as serdes from './serdes.js';
import {
  expectOk,
  readExecutionPlan,
  readScheduleResult,
  readSensorResult,
  type DagsterRunRequest,
  type Read,
} from './serdes-readers.js';

/** What this needs from the code-server manager. */
export interface DagsterServers {
  refresh(): Promise<void>;
  settled(
    location: string,
    minVersion: number,
    waitMs: number,
  ): Promise<{ status: 'LOADED' | 'ERROR'; error?: string }>;
  dagsterServer(location: string, waitMs: number): Promise<Loaded>;
}

type Loaded = DagsterCodeServer & { loaded: DagsterLoaded };

const UNAVAILABLE_ATTEMPTS = 4;
/** Dagster's tag for a run requested with a run key. */
export const RUN_KEY_TAG = 'dagster/run_key';

/** A Dagster RunRequest as Outpost's: `job_name` null means the schedule's or sensor's own job. */
export function toOutpostRunRequest(
  r: DagsterRunRequest,
  ownJob: string,
  from: string,
  assets: readonly AssetSnapshot[] = [],
): RunRequest {
  const job = r.jobName ?? ownJob;
  const unsupported = (detail: string) => new OutpostError('UNSUPPORTED_DAGSTER_FEATURE', { detail });
  if (!job) throw unsupported(`${from} requested a run without a job, and targets no job of its own`);
  // What a run would carry out differently from what was asked fails the tick, not the data.
  if (r.assetGraphSubset)
    throw unsupported(`${from} requested a backfill (an asset graph subset), which Outpost does not run yet`);
  // Dagster ignores it for a job without assets.
  if (r.staleAssetsOnly && assets.some((a) => a.jobNames.includes(job)))
    throw unsupported(
      `${from} requested stale assets only, which needs the Dagster instance's materialization history; Outpost gives user code no instance yet`,
    );
  if (r.assetCheckKeys) {
    // Dagster names the selected assets' own checks on a sensor's requests; Outpost runs an
    // asset's checks with it, so any other selection of checks would be run differently.
    const selected = new Set(r.assetSelection ?? []);
    const own = assets
      .filter((a) => selected.has(a.key))
      .flatMap((a) => (a.checks ?? []).map((c) => `${a.key}:${c.name}`));
    const asked = [...new Set(r.assetCheckKeys)].sort();
    if (asked.join('\n') !== [...new Set(own)].sort().join('\n'))
      throw unsupported(
        `${from} selected the asset checks [${asked.join(', ')}], not those of its assets ([${own.join(', ')}]); Outpost runs an asset's checks with it and selects no checks apart yet`,
      );
  }
  return {
    job,
    runConfig: r.runConfig,
    tags: { ...r.tags, ...(r.runKey ? { [RUN_KEY_TAG]: r.runKey } : {}) },
    ...(r.runKey ? { runKey: r.runKey } : {}),
    ...(r.partitionKey ? { partitionKey: r.partitionKey } : {}),
    // Dagster's daemon runs the request's asset subset of the job: without it, every asset of
    // the job (a sensor that targets assets asks for its own selection on each request).
    ...(r.assetSelection ? { assetSelection: r.assetSelection } : {}),
  };
}

/** Steps with their upstream steps and a level (longest path from a root), like Outpost's plans. */
export function planSteps(
  steps: { key: string; upstream: string[] }[],
): { key: string; dependsOn: string[]; level: number }[] {
  const byKey = new Map(steps.map((s) => [s.key, s]));
  const levels = new Map<string, number>();
  const level = (key: string, seen: Set<string>): number => {
    const known = levels.get(key);
    if (known !== undefined) return known;
    if (seen.has(key)) return 0; // a malformed cycle: do not recurse forever
    seen.add(key);
    const up = byKey.get(key)?.upstream.filter((u) => byKey.has(u)) ?? [];
    const l = up.length ? Math.max(...up.map((u) => level(u, seen))) + 1 : 0;
    levels.set(key, l);
    return l;
  };
  return steps.map((s) => ({ key: s.key, dependsOn: s.upstream, level: level(s.key, new Set()) }));
}

export class DagsterCodeLocation {
  constructor(
    private readonly servers: DagsterServers,
    private readonly opts: {
      logger: Logger;
      /** Wait this long for a starting server; default 60 s. */
      waitMs?: number;
      /** Deadline of one evaluation or query; default Dagster's own (60 s). */
      callTimeoutMs?: number;
    },
  ) {}

  private get callMs(): number {
    return this.opts.callTimeoutMs ?? DAGSTER_DEFAULT_TIMEOUT_MS;
  }

  async sync(payload: WorkItemPayload<'SYNC_CODE_LOCATION'>): Promise<WorkItemResult<'SYNC_CODE_LOCATION'>> {
    await this.servers.refresh();
    return this.servers.settled(payload.location, payload.version, 180_000);
  }

  evaluateSchedule(payload: WorkItemPayload<'EVALUATE_SCHEDULE'>): Promise<WorkItemResult<'EVALUATE_SCHEDULE'>> {
    return this.withServer(payload.location, async (s) => {
      const schedule = s.loaded.snapshot.schedules.find((x) => x.name === payload.schedule);
      if (!schedule) throw unknown('UNKNOWN_SCHEDULE', payload.schedule, payload.location);
      const args = serdes.scheduleExecutionArgs({
        origin: s.loaded.origin,
        scheduleName: schedule.name,
        tickMs: payload.tickTimeMs,
        timezone: schedule.timezone,
      });
      const r = expectEvaluation(
        readScheduleResult(await s.client.scheduleExecution(args, this.callMs)),
        `schedule:${schedule.name}`,
        `schedule ${schedule.name}`,
      );
      const from = `schedule ${schedule.name}`;
      return {
        runRequests: r.runRequests.map((x) => toOutpostRunRequest(x, schedule.job, from, s.loaded.snapshot.assets)),
        ...skipReasonOf(r.skipMessage),
      };
    });
  }

  evaluateSensor(payload: WorkItemPayload<'EVALUATE_SENSOR'>): Promise<WorkItemResult<'EVALUATE_SENSOR'>> {
    return this.withServer(payload.location, async (s) => {
      const sensor = s.loaded.snapshot.sensors.find((x) => x.name === payload.sensor);
      if (!sensor) throw unknown('UNKNOWN_SENSOR', payload.sensor, payload.location);
      if (sensor.unsupported) throw new OutpostError('UNSUPPORTED_DAGSTER_FEATURE', { detail: sensor.unsupported });
      const args = serdes.sensorExecutionArgs({
        origin: s.loaded.origin,
        sensorName: sensor.name,
        cursor: payload.cursor ?? null,
        lastTickCompletionMs: payload.lastTickTimeMs ?? null,
        lastRunKey: payload.lastRunKey ?? null,
      });
      const r = expectEvaluation(
        readSensorResult(await s.client.sensorExecution(args, this.callMs)),
        `sensor:${sensor.name}`,
        `sensor ${sensor.name}`,
      );
      if (r.unsupported.length) {
        throw new OutpostError('UNSUPPORTED_DAGSTER_FEATURE', {
          detail: `sensor ${sensor.name} returned ${r.unsupported.join(', ')}, which Outpost cannot act on yet; the tick fails rather than dropping them`,
          data: { fields: r.unsupported },
        });
      }
      const from = `sensor ${sensor.name}`;
      return {
        runRequests: r.runRequests.map((x) => toOutpostRunRequest(x, sensor.job, from, s.loaded.snapshot.assets)),
        // Always the reply's cursor: Dagster echoes the input when the sensor did not update it.
        cursor: r.cursor,
        ...skipReasonOf(r.skipMessage),
      };
    });
  }

  query(payload: WorkItemPayload<'QUERY_CODE_LOCATION'>): Promise<WorkItemResult<'QUERY_CODE_LOCATION'>> {
    return this.withServer(payload.location, async (s) => {
      const job = s.loaded.snapshot.jobs.find((j) => j.name === payload.job);
      if (!job) throw unknown('UNKNOWN_JOB', payload.job, payload.location);
      const origin = s.loaded.origin;
      if (payload.query === 'executionPlan') {
        const assets = new Set((s.loaded.snapshot.assets ?? []).map((a) => a.key));
        const missing = (payload.assetSelection ?? []).filter((k) => !assets.has(k));
        if (missing.length) {
          throw new OutpostError('INVALID_ARGUMENT', {
            detail: `unknown asset key(s) ${missing.join(', ')} in ${payload.location}; its assets: ${[...assets].join(', ') || 'none'}`,
          });
        }
        const args = serdes.executionPlanSnapshotArgs({
          origin,
          jobName: job.name,
          snapshotId: job.snapshotId ?? '',
          runConfig: payload.runConfig ?? {},
          ...(payload.opSelection?.length ? { opSelection: payload.opSelection } : {}),
          ...(payload.assetSelection?.length ? { assetSelection: payload.assetSelection } : {}),
        });
        const r = readExecutionPlan(await s.client.executionPlanSnapshot(args, this.callMs));
        if (!r.ok && r.error.clsName === 'DagsterInvalidConfigError') {
          // Dagster's own message, as data: the user reads exactly what Dagster says.
          throw new OutpostError('CONFIG_SCHEMA_VIOLATION', {
            // Dagster's message names the job ("Error in config for job <name>"): not again.
            detail: r.error.message.includes(job.name)
              ? r.error.message.trim()
              : `${job.name}: ${r.error.message.trim()}`,
            data: { userCodeError: toUserCodeError(r.error, `executionPlan:${job.name}`) },
          });
        }
        if (!r.ok && r.error.clsName === 'DagsterInvalidSubsetError') {
          // An op or asset selection Dagster cannot plan (an input no op left in provides): the
          // launch's argument, in Dagster's words, not an error of the user's code.
          throw new OutpostError('INVALID_ARGUMENT', {
            detail: `${job.name}: ${r.error.message.trim()}`,
            data: { userCodeError: toUserCodeError(r.error, `executionPlan:${job.name}`) },
          });
        }
        return {
          answer: planSteps(expectOk(r, `executionPlan:${job.name}`).steps),
          ...(payload.opSelection?.length ? { launchesOpSelection: true as const } : {}),
        };
      }
      return { answer: await answerPartitionQuery(s, job, payload, this.callMs, Date.now()) };
    });
  }

  /** Calls the location's server, retrying CODE_SERVER_UNAVAILABLE against whatever serves it by then. */
  private async withServer<T>(location: string, fn: (s: Loaded) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const server = await this.servers.dagsterServer(location, this.opts.waitMs ?? 60_000);
      try {
        return await fn(server);
      } catch (err) {
        if (!isOutpostError(err, 'CODE_SERVER_UNAVAILABLE') || attempt + 1 >= UNAVAILABLE_ATTEMPTS) throw err;
        this.opts.logger.warn({ location, attempt }, 'Dagster code server unavailable; retrying');
        await sleep(backoffDelay(attempt, { initialMs: 500, maxMs: 5_000 }));
      }
    }
  }
}

function unknown(name: 'UNKNOWN_SCHEDULE' | 'UNKNOWN_SENSOR' | 'UNKNOWN_JOB', what: string, location: string) {
  return new OutpostError(name, { detail: `${what} is not defined in ${location}` });
}

/** Dagster's words when code asks for the instance and the evaluation was given none. */
const NO_INSTANCE = /no instance reference was provided/;
/**
 * Dagster's words (1.9 to 1.13) when a dynamic partition key is checked without an instance, e.g.
 * a sensor that adds a key and requests a run of it in one result, Dagster's documented pattern.
 */
const NO_DYNAMIC_PARTITIONS = /instance is not available to load partitions/;

/**
 * A schedule or sensor reply; an evaluation that failed because it read the Dagster instance
 * (run-status, asset and multi-asset sensors, `context.instance`, dynamic partition keys) is
 * UNSUPPORTED_DAGSTER_FEATURE saying so, not a user-code error: the user's code is fine, Outpost gives it no instance.
 */
function expectEvaluation<T>(r: Read<T>, phase: string, what: string): T {
  if (!r.ok) {
    const text = formatDagsterError(r.error);
    if (NO_DYNAMIC_PARTITIONS.test(text)) {
      throw new OutpostError('UNSUPPORTED_DAGSTER_FEATURE', {
        detail: `${what} uses dynamic partitions (DynamicPartitionsDefinition), whose keys Dagster keeps in its instance, which Outpost does not give user code yet; its ticks fail until it does. Partition the job with static or time-window partitions instead. Dagster said: ${text}`,
        data: { userCodeError: toUserCodeError(r.error, phase) },
      });
    }
    if (NO_INSTANCE.test(text)) {
      throw new OutpostError('UNSUPPORTED_DAGSTER_FEATURE', {
        detail: `${what} reads the Dagster instance (a run-status, asset or multi-asset sensor, or context.instance), which Outpost does not give user code yet; its ticks fail until it does. Dagster said: ${text}`,
        data: { userCodeError: toUserCodeError(r.error, phase) },
      });
    }
  }
  return expectOk(r, phase);
}
