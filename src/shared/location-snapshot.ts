// What the control plane stores about a code location's definitions: a plain-JSON
// snapshot of GetDefinitions, reported by the agent. The control plane never sees code.
import { z } from 'zod';

export const OpSnapshotSchema = z.object({
  name: z.string(),
  description: z.string().default(''),
  inputs: z.array(z.object({ name: z.string(), fromOp: z.string(), fromOutput: z.string() })).default([]),
  outputs: z.array(z.string()).default([]),
  tags: z.record(z.string()).default({}),
});

export const JobSnapshotSchema = z.object({
  name: z.string(),
  description: z.string().default(''),
  tags: z.record(z.string()).default({}),
  /** JSON Schema of the run config. */
  configSchema: z.record(z.unknown()).default({}),
  ops: z.array(OpSnapshotSchema).default([]),
  partitions: z.string().optional(),
});

export const ScheduleSnapshotSchema = z.object({
  name: z.string(),
  job: z.string(),
  cron: z.string(),
  timezone: z.string().default('UTC'),
  defaultStatus: z.enum(['RUNNING', 'STOPPED']).default('STOPPED'),
  description: z.string().default(''),
});

export const SensorSnapshotSchema = z.object({
  name: z.string(),
  job: z.string(),
  minIntervalSeconds: z.number().int().positive().default(30),
  defaultStatus: z.enum(['RUNNING', 'STOPPED']).default('STOPPED'),
  description: z.string().default(''),
});

export const PartitionsSnapshotSchema = z.object({
  name: z.string(),
  kind: z.enum(['static', 'timeWindow']),
  keys: z.array(z.string()).optional(),
  start: z.string().optional(),
  cadence: z.string().optional(),
  timezone: z.string().optional(),
  format: z.string().optional(),
});

export const LocationSnapshotSchema = z.object({
  jobs: z.array(JobSnapshotSchema),
  schedules: z.array(ScheduleSnapshotSchema).default([]),
  sensors: z.array(SensorSnapshotSchema).default([]),
  partitions: z.array(PartitionsSnapshotSchema).default([]),
  /** Code-server identity when the snapshot was taken. */
  serverId: z.string().optional(),
  sdkVersion: z.string().optional(),
});
export type LocationSnapshot = z.infer<typeof LocationSnapshotSchema>;
export type JobSnapshot = z.infer<typeof JobSnapshotSchema>;
