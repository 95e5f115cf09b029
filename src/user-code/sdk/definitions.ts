// The definitions SDK: `op`, `job`, `schedule`, `sensor` and `defineLocation`. Builders only
// capture what the user wrote and check it early; the code server and the run worker read it.
import { OutpostError } from '../../shared/errors.js';
import { toConfigSchema, type ConfigSchemaInput, type ConfigSchema } from './config-schema.js';
import type { PartitionsDef } from './partitions.js';
import type { OpContext } from './op-context.js';

export type Tags = Record<string, string>;
export type DefaultStatus = 'RUNNING' | 'STOPPED';

/** An op: one step of a job. `Out` is what it returns; downstream ops receive it as an input. */
export interface OpDef<Out = unknown> {
  readonly kind: 'op';
  readonly name: string;
  readonly description: string;
  readonly tags: Tags;
  /** Input name -> the upstream op whose result feeds it. */
  readonly ins: Readonly<Record<string, OpDef>>;
  readonly config: ConfigSchema | undefined;
  readonly fn: (context: OpContext<unknown>, inputs: Record<string, unknown>) => Out | Promise<Out>;
}

type OutputOf<T> = T extends OpDef<infer O> ? Awaited<O> : never;
/** The inputs object an op function receives, typed from its `ins`. */
export type InputsOf<Ins extends Record<string, OpDef>> = { [K in keyof Ins]: OutputOf<Ins[K]> };

export interface OpSpec<Ins extends Record<string, OpDef>, Cfg> {
  name: string;
  description?: string;
  tags?: Tags;
  /** Upstream ops, by input name: `ins: { rows: extract }` gives the function `inputs.rows`. */
  ins?: Ins;
  /** The run config this op reads (zod/v4 or JSON Schema). Types `context.config`; parsed with defaults. */
  config?: ConfigSchemaInput<Cfg>;
}

/**
 * Defines an op.
 *   const extract = op({ name: 'extract' }, async (ctx) => [1, 2, 3]);
 *   const total = op({ name: 'total', ins: { rows: extract } }, (ctx, { rows }) => rows.length);
 */
export function op<Out, Ins extends Record<string, OpDef> = Record<never, OpDef>, Cfg = unknown>(
  spec: OpSpec<Ins, Cfg>,
  fn: (context: OpContext<Cfg>, inputs: InputsOf<Ins>) => Out | Promise<Out>,
): OpDef<Out> {
  assertName('op', spec.name);
  return {
    kind: 'op',
    name: spec.name,
    description: spec.description ?? '',
    tags: { ...spec.tags },
    ins: { ...spec.ins },
    config: spec.config === undefined ? undefined : toConfigSchema(spec.config, `op ${spec.name}`),
    fn: fn as OpDef<Out>['fn'],
  };
}

export interface JobSpec<Cfg> {
  name: string;
  description?: string;
  tags?: Tags;
  /** Every op of the job. Upstream ops named in `ins` must be listed too. */
  ops: OpDef<unknown>[];
  /** Run-config schema (zod/v4 or JSON Schema). Default: the ops' config schema when exactly one is declared. */
  config?: ConfigSchemaInput<Cfg>;
  partitions?: PartitionsDef;
  /** Run config for a partition key. Default `{}`. */
  partitionConfig?: (partitionKey: string) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Run tags for a partition key. Default `{ 'outpost/partition': key }`. */
  partitionTags?: (partitionKey: string) => Tags | Promise<Tags>;
}

export interface JobDef {
  readonly kind: 'job';
  readonly name: string;
  readonly description: string;
  readonly tags: Tags;
  readonly ops: readonly OpDef[];
  readonly config: ConfigSchema | undefined;
  readonly partitions: PartitionsDef | undefined;
  readonly partitionConfig: JobSpec<unknown>['partitionConfig'];
  readonly partitionTags: JobSpec<unknown>['partitionTags'];
}

/** Defines a job: a graph of ops, wired by their `ins`. */
export function job<Cfg = unknown>(spec: JobSpec<Cfg>): JobDef {
  assertName('job', spec.name);
  const names = new Set<string>();
  for (const o of spec.ops) {
    if (names.has(o.name)) throw invalid(`job ${spec.name}: two ops are named "${o.name}"`);
    names.add(o.name);
  }
  for (const o of spec.ops) {
    for (const [input, upstream] of Object.entries(o.ins)) {
      if (!spec.ops.includes(upstream)) {
        throw invalid(`job ${spec.name}: op ${o.name} input "${input}" reads op ${upstream.name}, which is not in ops`);
      }
    }
  }
  let config = spec.config === undefined ? undefined : toConfigSchema(spec.config, `job ${spec.name}`);
  if (!config) {
    const declared = [...new Set(spec.ops.map((o) => o.config).filter((c) => c !== undefined))];
    if (declared.length === 1) config = declared[0];
  }
  return {
    kind: 'job',
    name: spec.name,
    description: spec.description ?? '',
    tags: { ...spec.tags },
    ops: [...spec.ops],
    config,
    partitions: spec.partitions,
    partitionConfig: spec.partitionConfig,
    partitionTags: spec.partitionTags,
  };
}

/** What schedules and sensors ask for. `job` defaults to the schedule's or sensor's job. */
export interface RunRequest {
  runKey?: string;
  job?: string;
  runConfig?: Record<string, unknown>;
  tags?: Tags;
  partitionKey?: string;
}

/** Return this (or `{ skipReason }`) from an evaluation to say "no run this time". */
export interface SkipResult {
  skipReason: string;
}

export interface ScheduleContext {
  scheduleName: string;
  /** The scheduled tick time. */
  scheduledTime: Date;
  signal: AbortSignal;
}
export type ScheduleResult = RunRequest | RunRequest[] | SkipResult | undefined;

export interface ScheduleSpec {
  name: string;
  cron: string;
  job: JobDef;
  /** IANA time zone. Default `UTC`. */
  timezone?: string;
  /** Whether the schedule runs before anyone turns it on. Default `STOPPED`. */
  defaultStatus?: DefaultStatus;
  description?: string;
  /** Default: one run request per tick, keyed by the tick time, with empty config. */
  evaluate?: (context: ScheduleContext) => ScheduleResult | Promise<ScheduleResult>;
}

export interface ScheduleDef extends Required<Omit<ScheduleSpec, 'evaluate'>> {
  readonly kind: 'schedule';
  readonly evaluate: ScheduleSpec['evaluate'];
}

export function schedule(spec: ScheduleSpec): ScheduleDef {
  assertName('schedule', spec.name);
  if (spec.cron.trim().split(/\s+/).length < 5) throw invalid(`schedule ${spec.name}: "${spec.cron}" is not a cron`);
  return {
    kind: 'schedule',
    name: spec.name,
    cron: spec.cron,
    job: spec.job,
    timezone: spec.timezone ?? 'UTC',
    defaultStatus: spec.defaultStatus ?? 'STOPPED',
    description: spec.description ?? '',
    evaluate: spec.evaluate,
  };
}

export interface SensorContext {
  sensorName: string;
  /** What the previous evaluation stored; `undefined` the first time. */
  cursor: string | undefined;
  /** The previous tick, epoch ms; `undefined` the first time. */
  lastTickTimeMs: number | undefined;
  lastRunKey: string | undefined;
  signal: AbortSignal;
}

export interface SensorResult {
  runRequests?: RunRequest[];
  /** The cursor to store. Leave undefined to keep the stored one. */
  cursor?: string;
  skipReason?: string;
}

export interface SensorSpec {
  name: string;
  job: JobDef;
  /** Shortest time between two evaluations. Default 30. */
  minIntervalSeconds?: number;
  defaultStatus?: DefaultStatus;
  description?: string;
  evaluate: (context: SensorContext) => SensorResult | Promise<SensorResult>;
}

export interface SensorDef extends Required<SensorSpec> {
  readonly kind: 'sensor';
}

export function sensor(spec: SensorSpec): SensorDef {
  assertName('sensor', spec.name);
  const minIntervalSeconds = spec.minIntervalSeconds ?? 30;
  if (!Number.isInteger(minIntervalSeconds) || minIntervalSeconds < 1) {
    throw invalid(`sensor ${spec.name}: minIntervalSeconds must be a positive integer`);
  }
  return {
    kind: 'sensor',
    name: spec.name,
    job: spec.job,
    minIntervalSeconds,
    defaultStatus: spec.defaultStatus ?? 'STOPPED',
    description: spec.description ?? '',
    evaluate: spec.evaluate,
  };
}

export interface LocationDef {
  readonly kind: 'location';
  readonly name: string | undefined;
  readonly jobs: readonly JobDef[];
  readonly schedules: readonly ScheduleDef[];
  readonly sensors: readonly SensorDef[];
}

/**
 * The default export of a definitions module. `name` is optional: the location's name comes
 * from where it is deployed; when given, the code server reports it.
 */
export function defineLocation(spec: {
  name?: string;
  jobs: JobDef[];
  schedules?: ScheduleDef[];
  sensors?: SensorDef[];
}): LocationDef {
  const loc: LocationDef = {
    kind: 'location',
    name: spec.name,
    jobs: [...spec.jobs],
    schedules: [...(spec.schedules ?? [])],
    sensors: [...(spec.sensors ?? [])],
  };
  unique('job', loc.jobs);
  unique('schedule', loc.schedules);
  unique('sensor', loc.sensors);
  const partitionNames = new Map<string, PartitionsDef>();
  for (const j of loc.jobs) {
    if (!j.partitions) continue;
    const seen = partitionNames.get(j.partitions.name);
    if (seen && seen !== j.partitions) throw invalid(`two different partitions definitions are named "${seen.name}"`);
    partitionNames.set(j.partitions.name, j.partitions);
  }
  for (const t of [...loc.schedules, ...loc.sensors]) {
    if (!loc.jobs.includes(t.job)) throw invalid(`${t.kind} ${t.name} targets job ${t.job.name}, which is not in jobs`);
  }
  return loc;
}

function unique(kind: string, defs: readonly { name: string }[]): void {
  const seen = new Set<string>();
  for (const d of defs) {
    if (seen.has(d.name)) throw invalid(`two ${kind}s are named "${d.name}"`);
    seen.add(d.name);
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
function assertName(kind: string, name: string): void {
  if (!NAME.test(name)) throw invalid(`${kind} name "${name}" must match ${NAME.source}`);
}

const invalid = (detail: string): OutpostError => new OutpostError('INVALID_ARGUMENT', { detail });
