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
  /**
   * Dagster: the tags every run of the job carries (the job's `run_tags`, else its `tags`), as
   * Dagster's webserver and daemons put them under a run's own tags.
   */
  runTags: z.record(z.string()).optional(),
  /** Dagster: the job snapshot id, needed by execution-plan requests. */
  snapshotId: z.string().optional(),
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
  /**
   * Why Outpost cannot evaluate this sensor (the detail of OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE),
   * e.g. Dagster's declarative automation sensor; absent when it can. Starting it is refused.
   */
  unsupported: z.string().optional(),
});

/** What else bounds a Dagster time window's keys (the agent decides a key's membership from them). */
const DagsterWindowFields = {
  /** Windows past the last ended one that are keys too (Dagster's end_offset; default 0). */
  endOffset: z.number().int().optional(),
  /** No window starts at or after this instant (ISO). */
  end: z.string().optional(),
  /** How many exclusions (dates or crons) the set has; their keys are not in it. */
  exclusions: z.number().int().optional(),
};

export const PartitionsSnapshotSchema = z.object({
  name: z.string(),
  /**
   * `dynamic`, `multi` and `other` come from Dagster locations only; `other` is a kind this
   * Outpost does not know (a later Dagster's), named by `dagsterClass`: its code server lists its keys.
   */
  kind: z.enum(['static', 'timeWindow', 'dynamic', 'multi', 'other']),
  /** The Dagster serdes class of an `other` set (e.g. `ExternalFooPartitionsDefinitionData`). */
  dagsterClass: z.string().optional(),
  keys: z.array(z.string()).optional(),
  /**
   * How many keys a static set has when `keys` lists only its first MAX_SNAPSHOT_PARTITION_KEYS
   * (the control plane then asks the location whether a key past them is in the set).
   */
  keyCount: z.number().int().optional(),
  start: z.string().optional(),
  cadence: z.string().optional(),
  timezone: z.string().optional(),
  format: z.string().optional(),
  /** Dagster time windows: cron of the window starts (Dagster's own form; `format` is then strftime). */
  cron: z.string().optional(),
  ...DagsterWindowFields,
  /** Dagster multi-partitions: one entry per dimension, each itself a partitions snapshot. */
  dimensions: z
    .array(
      z.object({
        name: z.string(),
        kind: z.string(),
        dagsterClass: z.string().optional(),
        keys: z.array(z.string()).optional(),
        start: z.string().optional(),
        timezone: z.string().optional(),
        format: z.string().optional(),
        cron: z.string().optional(),
        ...DagsterWindowFields,
      }),
    )
    .optional(),
});

/** A Dagster asset check: a test of its asset's data, run with the asset (or on its own). */
export const AssetCheckSnapshotSchema = z.object({
  name: z.string(),
  description: z.string().default(''),
  /** A blocking check that fails stops the asset's downstream assets in the same run. */
  blocking: z.boolean().default(false),
});
export type AssetCheckSnapshot = z.infer<typeof AssetCheckSnapshotSchema>;

/** A software-defined asset (Dagster locations). */
export const AssetSnapshotSchema = z.object({
  /** Path parts joined with '/'. */
  key: z.string(),
  groupName: z.string().optional(),
  description: z.string().default(''),
  /** Upstream asset keys. */
  deps: z.array(z.string()).default([]),
  /** Jobs that materialize it (including Dagster's implicit `__ASSET_JOB`). */
  jobNames: z.array(z.string()).default([]),
  /** Its asset checks (absent from snapshots of agents before them). */
  checks: z.array(AssetCheckSnapshotSchema).optional(),
  /** Dagster's AutomationCondition (or auto-materialize policy), by its label; Outpost does not evaluate it. */
  automationCondition: z.string().optional(),
  /** Dagster's freshness policy, described; Outpost does not evaluate it. */
  freshnessPolicy: z.string().optional(),
});

export const LocationSnapshotSchema = z.object({
  jobs: z.array(JobSnapshotSchema),
  schedules: z.array(ScheduleSnapshotSchema).default([]),
  sensors: z.array(SensorSnapshotSchema).default([]),
  partitions: z.array(PartitionsSnapshotSchema).default([]),
  /** Code-server identity when the snapshot was taken. */
  serverId: z.string().optional(),
  sdkVersion: z.string().optional(),
  /** Which kind of code server produced it; absent means `outpost`. */
  kind: z.enum(['outpost', 'dagster']).optional(),
  dagsterVersion: z.string().optional(),
  /** Dagster: the repository the snapshot describes (`__repository__` for a Definitions object). */
  repositoryName: z.string().optional(),
  assets: z.array(AssetSnapshotSchema).optional(),
});
export type LocationSnapshot = z.infer<typeof LocationSnapshotSchema>;

/**
 * The most keys of one static set a stored snapshot lists. A larger set keeps its first keys and
 * its `keyCount`: a 100,000-key set is ~1.4 MB, which every launch and every location page in the
 * web UI would otherwise read; the rest are paged and searched from the location on demand.
 */
export const MAX_SNAPSHOT_PARTITION_KEYS = 1000;

/** `snapshot` with each static set past MAX_SNAPSHOT_PARTITION_KEYS cut to its first keys and counted. */
export function boundPartitionKeys(snapshot: LocationSnapshot): LocationSnapshot {
  if (!snapshot.partitions.some((p) => (p.keys?.length ?? 0) > MAX_SNAPSHOT_PARTITION_KEYS)) return snapshot;
  return {
    ...snapshot,
    partitions: snapshot.partitions.map((p) =>
      p.keys && p.keys.length > MAX_SNAPSHOT_PARTITION_KEYS
        ? { ...p, keys: p.keys.slice(0, MAX_SNAPSHOT_PARTITION_KEYS), keyCount: p.keyCount ?? p.keys.length }
        : p,
    ),
  };
}

/** Whether the snapshot lists every key of the set (false when cut by boundPartitionKeys). */
export function listsAllKeys(set: Pick<PartitionsSnapshot, 'keys' | 'keyCount'>): boolean {
  return set.keyCount === undefined || set.keyCount <= (set.keys?.length ?? 0);
}
export type JobSnapshot = z.infer<typeof JobSnapshotSchema>;
export type PartitionsSnapshot = z.infer<typeof PartitionsSnapshotSchema>;
export type AssetSnapshot = z.infer<typeof AssetSnapshotSchema>;
