// Turns loaded definitions into the contract's messages (GetDefinitions, run requests). Pure.
import {
  DefaultStatus,
  type GetDefinitionsResponse,
  type JobDefinition,
  type PartitionsDefinition,
  type RunRequest as RunRequestMessage,
  type UserCodeError,
} from '../../gen/outpost/codeserver/v1/code_server.js';
import { serializeError } from '../../shared/run-spool.js';
import type { DefaultStatus as SdkDefaultStatus, JobDef, LocationDef, RunRequest } from '../sdk/definitions.js';
import type { PartitionsDef } from '../sdk/partitions.js';
import { configJsonSchema } from './config-json-schema.js';

const STATUS: Record<SdkDefaultStatus, DefaultStatus> = {
  RUNNING: DefaultStatus.DEFAULT_STATUS_RUNNING,
  STOPPED: DefaultStatus.DEFAULT_STATUS_STOPPED,
};

export function toUserCodeError(err: unknown, phase: string): UserCodeError {
  const e = serializeError(err);
  return { name: e.name, message: e.message, stack: e.stack ?? '', phase };
}

export function jobToProto(j: JobDef): JobDefinition {
  return {
    name: j.name,
    description: j.description,
    tags: { ...j.tags },
    configSchemaJson: JSON.stringify(configJsonSchema(j.config)),
    ops: j.ops.map((o) => ({
      name: o.name,
      description: o.description,
      inputs: Object.entries(o.ins).map(([name, upstream]) => ({ name, fromOp: upstream.name, fromOutput: 'result' })),
      outputs: ['result'],
      tags: { ...o.tags },
    })),
    partitions: j.partitions?.name ?? '',
  };
}

function partitionsToProto(p: PartitionsDef): PartitionsDefinition {
  if (p.kind === 'static') return { name: p.name, kind: { $case: 'static', value: { keys: [...p.keys] } } };
  return {
    name: p.name,
    kind: {
      $case: 'timeWindow',
      value: { start: p.start, cadence: p.cadence, timezone: p.timezone, format: p.format },
    },
  };
}

export function definitionsToProto(loc: LocationDef, locationName: string): GetDefinitionsResponse {
  const partitions = new Map<string, PartitionsDef>();
  for (const j of loc.jobs) if (j.partitions) partitions.set(j.partitions.name, j.partitions);
  return {
    locationName,
    loadError: undefined,
    jobs: loc.jobs.map(jobToProto),
    schedules: loc.schedules.map((s) => ({
      name: s.name,
      job: s.job.name,
      cron: s.cron,
      timezone: s.timezone,
      defaultStatus: STATUS[s.defaultStatus],
      description: s.description,
    })),
    sensors: loc.sensors.map((s) => ({
      name: s.name,
      job: s.job.name,
      minIntervalSeconds: s.minIntervalSeconds,
      defaultStatus: STATUS[s.defaultStatus],
      description: s.description,
    })),
    partitions: [...partitions.values()].map(partitionsToProto),
  };
}

export function runRequestToProto(r: RunRequest, defaultJob: string): RunRequestMessage {
  return {
    runKey: r.runKey ?? '',
    job: r.job ?? defaultJob,
    runConfigJson: JSON.stringify(r.runConfig ?? {}),
    tags: stringTags(r.tags ?? {}),
    partitionKey: r.partitionKey ?? '',
  };
}

/** Tags are strings on the wire; user code written in JS may hand us anything. */
export function stringTags(tags: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}
