// The RPCs of CodeServerService over one loaded (or failed) location. User-code errors come back
// in the response; gRPC statuses are for contract problems (see the proto's header comment).
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type {
  CodeServerServiceServer,
  EvaluateScheduleResponse,
  EvaluateSensorResponse,
} from '../../gen/outpost/codeserver/v1/code_server.js';
import { OutpostError, isOutpostError } from '../../shared/errors.js';
import type { JobDef, LocationDef, RunRequest, ScheduleResult } from '../sdk/definitions.js';
import { definitionsToProto, runRequestToProto, stringTags, toUserCodeError } from './definitions-to-proto.js';
import { executionPlan } from '../common/execution-plan.js';
import { partitionKeys } from '../sdk/partitions.js';
import { SDK_VERSION } from '../sdk/sdk-version.js';
import { withTimeout } from '../common/with-timeout.js';

export interface LoadedLocation {
  serverId: string;
  startedAtMs: number;
  module: string;
  locationName: string;
  /** Undefined when the module failed to load. */
  location: LocationDef | undefined;
  loadError: unknown;
  /** Every call into user code is bounded by this. */
  callTimeoutMs: number;
  now: () => number;
}

/** A failure that becomes a gRPC status instead of a response. */
class StatusError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

function unary<Req, Res>(fn: (req: Req) => Promise<Res> | Res) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          const code =
            err instanceof StatusError
              ? err.code
              : isOutpostError(err, 'USER_CODE_TIMEOUT')
                ? status.DEADLINE_EXCEEDED
                : isOutpostError(err, 'INVALID_ARGUMENT')
                  ? status.INVALID_ARGUMENT
                  : status.INTERNAL;
          callback({ code, details: (err as Error).message ?? String(err) });
        },
      );
  };
}

export function codeServerHandlers(state: LoadedLocation): CodeServerServiceServer {
  const loadErrorMessage = state.loadError ? toUserCodeError(state.loadError, 'load') : undefined;
  const loc = (): LocationDef => {
    if (!state.location) {
      throw new StatusError(status.FAILED_PRECONDITION, `location failed to load: ${loadErrorMessage?.message ?? ''}`);
    }
    return state.location;
  };
  const findJob = (name: string): JobDef => {
    const j = loc().jobs.find((x) => x.name === name);
    if (!j) throw new StatusError(status.NOT_FOUND, new OutpostError('UNKNOWN_JOB', { detail: name }).message);
    return j;
  };
  const partitioned = (name: string): JobDef & { partitions: NonNullable<JobDef['partitions']> } => {
    const j = findJob(name);
    if (!j.partitions) throw new StatusError(status.INVALID_ARGUMENT, `job ${name} is not partitioned`);
    return j as JobDef & { partitions: NonNullable<JobDef['partitions']> };
  };
  const requireKey = (j: ReturnType<typeof partitioned>, key: string): void => {
    if (!partitionKeys(j.partitions, state.now()).includes(key)) {
      throw new StatusError(status.INVALID_ARGUMENT, `"${key}" is not a partition of job ${j.name}`);
    }
  };
  /** Runs user code under the call timeout; its errors become `UserCodeError`s, timeouts a status. */
  const userCall = async <T>(phase: string, fn: (signal: AbortSignal) => T | Promise<T>) => {
    const abort = new AbortController();
    try {
      return { ok: true as const, value: await withTimeout(() => fn(abort.signal), state.callTimeoutMs, phase) };
    } catch (err) {
      if (isOutpostError(err, 'USER_CODE_TIMEOUT')) throw err;
      return { ok: false as const, error: toUserCodeError(err, phase) };
    } finally {
      abort.abort();
    }
  };
  /** Run requests on the wire; a request naming a job this location lacks is the user's error. */
  const toMessages = (requests: RunRequest[], defaultJob: string) => {
    if (!Array.isArray(requests)) throw new TypeError('runRequests must be an array');
    return requests.map((r) => {
      const message = runRequestToProto(r, defaultJob);
      if (!loc().jobs.some((j) => j.name === message.job)) {
        throw new Error(`a run request names job "${message.job}", which is not in this location`);
      }
      return message;
    });
  };
  const serverInfo = () => ({
    serverId: state.serverId,
    sdkVersion: SDK_VERSION,
    locationName: state.locationName,
    module: state.module,
    loadError: loadErrorMessage,
    startedAtMs: state.startedAtMs,
  });

  return {
    ping: unary((req) => ({ echo: req.echo, serverId: state.serverId })),
    getServerInfo: unary(() => serverInfo()),
    getDefinitions: unary(() => {
      if (!state.location) {
        return {
          jobs: [],
          schedules: [],
          sensors: [],
          partitions: [],
          loadError: loadErrorMessage,
          locationName: state.locationName,
        };
      }
      return definitionsToProto(state.location, state.locationName);
    }),
    evaluateSchedule: unary(async (req): Promise<EvaluateScheduleResponse> => {
      const s = loc().schedules.find((x) => x.name === req.schedule);
      if (!s)
        throw new StatusError(status.NOT_FOUND, new OutpostError('UNKNOWN_SCHEDULE', { detail: req.schedule }).message);
      const tick = new Date(req.tickTimeMs || state.now());
      // Converting what user code returned happens inside the user call: a bad value is its error.
      const result = await userCall(`schedule:${s.name}`, async (signal) => {
        const value: ScheduleResult = s.evaluate
          ? await s.evaluate({ scheduleName: s.name, scheduledTime: tick, signal })
          : defaultScheduleRequest(tick);
        if (value && !Array.isArray(value) && 'skipReason' in value && typeof value.skipReason === 'string') {
          return { runRequests: [], skipReason: value.skipReason };
        }
        const requests: RunRequest[] = value === undefined ? [] : Array.isArray(value) ? value : [value as RunRequest];
        return {
          runRequests: toMessages(requests, s.job.name),
          skipReason: requests.length ? '' : 'the schedule returned no run requests',
        };
      });
      if (!result.ok) return { runRequests: [], skipReason: '', error: result.error };
      return { ...result.value, error: undefined };
    }),
    evaluateSensor: unary(async (req): Promise<EvaluateSensorResponse> => {
      const s = loc().sensors.find((x) => x.name === req.sensor);
      if (!s)
        throw new StatusError(status.NOT_FOUND, new OutpostError('UNKNOWN_SENSOR', { detail: req.sensor }).message);
      const result = await userCall(`sensor:${s.name}`, async (signal) => {
        const r =
          (await s.evaluate({
            sensorName: s.name,
            cursor: req.cursor === '' ? undefined : req.cursor,
            lastTickTimeMs: req.lastTickTimeMs ? req.lastTickTimeMs : undefined,
            lastRunKey: req.lastRunKey === '' ? undefined : req.lastRunKey,
            signal,
          })) ?? {};
        const requests = r.runRequests ?? [];
        if (r.cursor !== undefined && typeof r.cursor !== 'string')
          throw new TypeError('the sensor cursor must be a string');
        return {
          runRequests: toMessages(requests, s.job.name),
          cursor: r.cursor ?? '',
          hasCursor: r.cursor !== undefined,
          skipReason: r.skipReason ?? (requests.length ? '' : 'the sensor returned no run requests'),
        };
      });
      if (!result.ok) return { runRequests: [], cursor: '', hasCursor: false, skipReason: '', error: result.error };
      return { ...result.value, error: undefined };
    }),
    getPartitionNames: unary((req) => {
      const j = partitioned(req.job);
      return { names: partitionKeys(j.partitions, req.nowMs || state.now()), error: undefined };
    }),
    getPartitionConfig: unary(async (req) => {
      const j = partitioned(req.job);
      requireKey(j, req.partitionKey);
      const fn = j.partitionConfig;
      const result = await userCall(`partition_config:${j.name}`, () => (fn ? fn(req.partitionKey) : {}));
      if (!result.ok) return { runConfigJson: '', error: result.error };
      return { runConfigJson: JSON.stringify(result.value ?? {}), error: undefined };
    }),
    getPartitionTags: unary(async (req) => {
      const j = partitioned(req.job);
      requireKey(j, req.partitionKey);
      const fn = j.partitionTags;
      const result = await userCall(`partition_tags:${j.name}`, () =>
        fn ? fn(req.partitionKey) : { 'outpost/partition': req.partitionKey },
      );
      if (!result.ok) return { tags: {}, error: result.error };
      return { tags: stringTags(result.value ?? {}), error: undefined };
    }),
    getExecutionPlan: unary((req) => {
      const steps = executionPlan(findJob(req.job), req.opSelection);
      return { steps: steps.map((s) => ({ key: s.key, dependsOn: s.dependsOn, level: s.level })), error: undefined };
    }),
  };
}

/** Without an evaluate function a schedule requests one run per tick, keyed by the tick time. */
function defaultScheduleRequest(tick: Date): RunRequest {
  return { runKey: tick.toISOString(), tags: { 'outpost/scheduled_execution_time': tick.toISOString() } };
}
