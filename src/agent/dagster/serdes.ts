// Dagster "serdes" requests: the JSON strings the code server expects inside its gRPC envelope.
// Requests are built only from the few classes below, under the wire's legacy storage names
// (ExternalRepositoryOrigin, PipelinePythonOrigin, pipeline_name, solid_selection, ...), because an
// unknown `__class__` is a hard error on the server while missing fields with defaults are filled in.
// Dagster checks floats by type, so float fields are wrapped in `float()` and always written with a
// decimal point (`1798596000.0`): plain JSON.stringify would write an int, which Dagster rejects.

/** A number that must reach Python as a float. */
export class SerdesFloat {
  constructor(readonly value: number) {}
}
export const float = (value: number): SerdesFloat => new SerdesFloat(value);

export type SerdesValue =
  null | boolean | number | string | SerdesFloat | SerdesValue[] | { [key: string]: SerdesValue | undefined };

function floatLiteral(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`serdes: ${v} is not a finite float`);
  const s = String(v);
  // "1e+21" and "1.5" are floats to Python's json module already; "17" is not.
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** Serializes like Dagster does (sorted keys), writing SerdesFloat values as floats. */
export function serialize(value: SerdesValue | undefined): string {
  if (value === undefined || value === null) return 'null';
  if (value instanceof SerdesFloat) return floatLiteral(value.value);
  if (Array.isArray(value)) return `[${value.map((v) => serialize(v)).join(', ')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}: ${serialize(value[k])}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

/** Plain JSON (run config, tags) passed through as is: its numbers stay what the user wrote. */
export function jsonValue(v: unknown): SerdesValue {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(jsonValue);
  if (typeof v === 'object') {
    const out: Record<string, SerdesValue> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = jsonValue(x);
    return out;
  }
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  throw new TypeError(`serdes: ${typeof v} is not JSON`);
}

// --- origins: shared by every repository-scoped call

/** Where the code server listens. The origin is an identifier on the server side, never dialled. */
export interface ServerAddress {
  /** Unix socket path (what Outpost uses). */
  socket?: string;
  host?: string;
  port?: number;
}

export interface RepositoryOriginInput extends ServerAddress {
  locationName: string;
  /** From ListRepositories: `__repository__` for a `Definitions` object. */
  repositoryName: string;
}

export function repositoryOrigin(o: RepositoryOriginInput): SerdesValue {
  return {
    __class__: 'ExternalRepositoryOrigin',
    repository_name: o.repositoryName,
    repository_location_origin: {
      __class__: 'GrpcServerRepositoryLocationOrigin',
      host: o.host ?? 'localhost',
      port: o.port ?? null,
      socket: o.socket ?? null,
      location_name: o.locationName,
    },
  };
}

export function jobOrigin(origin: RepositoryOriginInput, jobName: string): SerdesValue {
  return {
    __class__: 'ExternalPipelineOrigin',
    external_repository_origin: repositoryOrigin(origin),
    pipeline_name: jobName,
  };
}

// --- request arguments, one builder per RPC that takes serdes

export interface ExecutionPlanInput {
  origin: RepositoryOriginInput;
  jobName: string;
  runConfig: unknown;
  /** From the job's ExternalJobRef. */
  snapshotId: string;
  opSelection?: string[];
  stepKeys?: string[];
  /** Asset keys, path parts joined with `/` (Outpost's form); absent = the whole job. */
  assetSelection?: string[];
}

/** `a/b` → `AssetKey(["a", "b"])`. */
export function assetKey(key: string): SerdesValue {
  return { __class__: 'AssetKey', path: key.split('/') };
}

export function executionPlanSnapshotArgs(i: ExecutionPlanInput): string {
  return serialize({
    __class__: 'ExecutionPlanSnapshotArgs',
    pipeline_origin: jobOrigin(i.origin, i.jobName),
    solid_selection: i.opSelection ?? [],
    run_config: jsonValue(i.runConfig ?? {}),
    step_keys_to_execute: i.stepKeys ?? null,
    ...(i.assetSelection ? { asset_selection: { __frozenset__: i.assetSelection.map(assetKey) } } : {}),
    pipeline_snapshot_id: i.snapshotId,
    known_state: null,
    instance_ref: null,
    mode: 'default',
  });
}

export interface PartitionSetInput {
  origin: RepositoryOriginInput;
  jobName: string;
  /** ExternalPartitionSetData.name: `<job>_partition_set`. */
  partitionSetName: string;
}

export function partitionNamesArgs(i: PartitionSetInput): string {
  return serialize({
    __class__: 'PartitionNamesArgs',
    repository_origin: repositoryOrigin(i.origin),
    partition_set_name: i.partitionSetName,
    job_name: i.jobName,
  });
}

export function partitionArgs(i: PartitionSetInput & { partitionName: string }): string {
  return serialize({
    __class__: 'PartitionArgs',
    repository_origin: repositoryOrigin(i.origin),
    partition_set_name: i.partitionSetName,
    partition_name: i.partitionName,
    job_name: i.jobName,
    instance_ref: null,
  });
}

export interface ScheduleTickInput {
  origin: RepositoryOriginInput;
  scheduleName: string;
  /** The tick, in epoch milliseconds (Outpost's unit); sent as float seconds. */
  tickMs: number;
  timezone?: string;
  /** Seconds the server may spend; null lets Dagster use its own. */
  timeoutSeconds?: number;
}

export function scheduleExecutionArgs(i: ScheduleTickInput): string {
  return serialize({
    __class__: 'ExternalScheduleExecutionArgs',
    repository_origin: repositoryOrigin(i.origin),
    instance_ref: null,
    schedule_name: i.scheduleName,
    scheduled_execution_timestamp: float(i.tickMs / 1000),
    scheduled_execution_timezone: i.timezone ?? 'UTC',
    log_key: [],
    timeout: i.timeoutSeconds ?? null,
  });
}

export interface SensorTickInput {
  origin: RepositoryOriginInput;
  sensorName: string;
  /** Opaque; null on the first tick. */
  cursor: string | null;
  lastTickCompletionMs?: number | null;
  lastRunKey?: string | null;
  lastSensorStartMs?: number | null;
  timeoutSeconds?: number;
}

const msToSeconds = (ms: number | null | undefined): SerdesValue => (ms == null ? null : float(ms / 1000));

export function sensorExecutionArgs(i: SensorTickInput): string {
  return serialize({
    __class__: 'SensorExecutionArgs',
    repository_origin: repositoryOrigin(i.origin),
    instance_ref: null,
    sensor_name: i.sensorName,
    cursor: i.cursor,
    last_tick_completion_time: msToSeconds(i.lastTickCompletionMs),
    last_run_key: i.lastRunKey ?? null,
    last_sensor_start_time: msToSeconds(i.lastSensorStartMs),
    log_key: [],
    timeout: i.timeoutSeconds ?? null,
  });
}
