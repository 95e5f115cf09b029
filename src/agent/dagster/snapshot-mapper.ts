// Dagster's repository snapshot (ListRepositories + deferred ExternalRepository + one ExternalJob
// per job) as Outpost's LocationSnapshot. Pure: the caller fetches, this maps.
import type {
  AssetCheckSnapshot,
  AssetSnapshot,
  JobSnapshot,
  LocationSnapshot,
  PartitionsSnapshot,
} from '../../shared/location-snapshot.js';
import { configTypeToJsonSchema } from './config-type-schema.js';
import type { JobData, PartitionsDataT, RepositoryData } from './serdes-readers.js';

export interface DagsterSnapshotInput {
  dagsterVersion: string | null;
  repository: RepositoryData & { jobRefs: { name: string; snapshotId: string }[] };
  /** By job name; a job without one is listed with what the repository data says. */
  jobs: Record<string, JobData>;
}

function mapJob(name: string, snapshotId: string, data: JobData | undefined, partitions?: string): JobSnapshot {
  const snap = data?.pipeline_snapshot;
  const defs = new Map((snap?.solid_definitions_snapshot.solid_def_snaps ?? []).map((d) => [d.name, d]));
  const rootKey = snap?.mode_def_snaps[0]?.root_config_key;
  return {
    name,
    description: snap?.description ?? '',
    tags: snap?.tags ?? {},
    configSchema:
      rootKey && snap ? configTypeToJsonSchema(rootKey, snap.config_schema_snapshot.all_config_snaps_by_key) : {},
    ops: (snap?.dep_structure_snapshot.solid_invocation_snaps ?? []).map((inv) => {
      const def = defs.get(inv.solid_def_name);
      return {
        name: inv.solid_name,
        description: def?.description ?? '',
        inputs: inv.input_dep_snaps.flatMap((d) =>
          d.upstream_output_snaps.map((u) => ({ name: d.input_name, fromOp: u.solid_name, fromOutput: u.output_name })),
        ),
        outputs: (def?.output_def_snaps ?? []).map((o) => o.name),
        tags: { ...def?.tags, ...inv.tags },
      };
    }),
    ...(partitions ? { partitions } : {}),
    ...(snap ? { runTags: runTagsOf(snap) } : {}),
    snapshotId,
  };
}

/** Dagster's `RemoteJob.run_tags`: the snapshot's `run_tags`, or its `tags` when it has none (null). */
function runTagsOf(snap: NonNullable<JobData['pipeline_snapshot']>): Record<string, string> {
  const tags = snap.run_tags ?? snap.tags;
  return Object.fromEntries(Object.entries(tags).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

const optional = <K extends string>(k: K, v: string | undefined): Partial<Record<K, string>> =>
  v === undefined ? {} : ({ [k]: v } as Record<K, string>);

const isoSeconds = (s: number | null | undefined): string | undefined =>
  s == null ? undefined : new Date(s * 1000).toISOString();

function partitionsKind(p: PartitionsDataT): Omit<PartitionsSnapshot, 'name'> {
  switch (p.__class__) {
    case 'ExternalStaticPartitionsDefinitionData':
      return { kind: 'static', keys: p.partition_keys ?? [] };
    case 'ExternalTimeWindowPartitionsDefinitionData':
      return {
        kind: 'timeWindow',
        start: isoSeconds(p.start),
        cron: p.cron_schedule ?? undefined,
        timezone: p.timezone ?? 'UTC',
        format: p.fmt ?? undefined,
        ...(p.end_offset ? { endOffset: p.end_offset } : {}),
        ...(p.end != null ? { end: isoSeconds(p.end) } : {}),
        ...(p.exclusions?.length ? { exclusions: p.exclusions.length } : {}),
      };
    case 'ExternalDynamicPartitionsDefinitionData':
      return { kind: 'dynamic' };
    case 'ExternalMultiPartitionsDefinitionData':
      return {
        kind: 'multi',
        dimensions: (p.external_partition_dimension_definitions ?? []).map((d) => {
          // A dimension keeps what decides its keys (a time window's fields), nothing nested.
          const { dimensions: _nested, ...inner } = partitionsKind(d.external_partitions_def_data);
          return { name: d.name, ...inner };
        }),
      };
    default:
      // A kind added in a later Dagster: named as Dagster names it, with nothing Outpost would
      // misread; its code server lists its keys (a dynamic set's it cannot, without an instance).
      return { kind: 'other', dagsterClass: p.__class__ };
  }
}

type AssetNode = NonNullable<RepositoryData['external_asset_graph_data']>[number];

/** The asset's declarative automation, by the condition's label; undefined when it has none. */
function automationOf(a: AssetNode): string | undefined {
  const policy = a.auto_materialize_policy;
  if (policy?.asset_condition) return policy.asset_condition.label ?? 'a custom AutomationCondition';
  if (policy) return 'an auto-materialize policy';
  if (a.automation_condition_snapshot) return 'a custom AutomationCondition';
  return undefined;
}

/** Dagster's SerializableTimeDelta as "1h 30m". */
function timeDelta(v: unknown): string {
  const d = (v ?? {}) as { days?: number; seconds?: number };
  const total = (d.days ?? 0) * 86_400 + (d.seconds ?? 0);
  const parts = [
    [Math.floor(total / 86_400), 'd'],
    [Math.floor((total % 86_400) / 3600), 'h'],
    [Math.floor((total % 3600) / 60), 'm'],
    [total % 60, 's'],
  ] as const;
  return (
    parts
      .filter(([n]) => n > 0)
      .map(([n, u]) => `${n}${u}`)
      .join(' ') || '0s'
  );
}

/** A scalar field of a serdes object as text ('' when absent or not a scalar). */
const text = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

/** The asset's freshness policy in a few words; undefined when it has none. */
function freshnessOf(a: AssetNode): string | undefined {
  const p = a.new_freshness_policy ?? a.freshness_policy;
  if (!p) return undefined;
  switch (p.__class__) {
    case 'TimeWindowFreshnessPolicy':
      return `fails when older than ${timeDelta(p.fail_window)}${p.warn_window ? `, warns after ${timeDelta(p.warn_window)}` : ''}`;
    case 'CronFreshnessPolicy':
      return `due by cron ${text(p.deadline_cron)}${text(p.timezone) ? ` (${text(p.timezone)})` : ''}`;
    case 'FreshnessPolicy': // 1.9's (later LegacyFreshnessPolicy)
      return `at most ${text(p.maximum_lag_minutes)} min old${text(p.cron_schedule) ? ` by cron ${text(p.cron_schedule)}` : ''}`;
    default:
      return text(p.__class__) || 'a freshness policy';
  }
}

/** Why Outpost cannot evaluate a sensor of this Dagster type, or undefined when it can. */
function sensorUnsupported(name: string, sensorType: string | undefined): string | undefined {
  if (sensorType !== 'AUTOMATION' && sensorType !== 'AUTO_MATERIALIZE') return undefined;
  return `sensor ${name} is Dagster's declarative automation (AutomationCondition): Dagster's own daemon evaluates it, not the code server, and Outpost does not run that daemon; materialize the assets with a schedule, a sensor of your own, or by hand`;
}

export function mapDagsterSnapshot(input: DagsterSnapshotInput): LocationSnapshot {
  const repo = input.repository;
  // Outpost names a job's partitions; Dagster names the partition set `<job>_partition_set`.
  const partitionSets = repo.external_partition_set_datas.filter((p) => p.external_partitions_data);
  const setByJob = new Map(partitionSets.map((p) => [p.pipeline_name, p.name]));
  const checksByAsset = new Map<string, AssetCheckSnapshot[]>();
  for (const c of repo.external_asset_checks ?? []) {
    const list = checksByAsset.get(c.asset_key) ?? [];
    list.push({ name: c.name, description: c.description ?? '', blocking: c.blocking ?? false });
    checksByAsset.set(c.asset_key, list);
  }
  const assets: AssetSnapshot[] = (repo.external_asset_graph_data ?? []).map((a) => ({
    key: a.asset_key,
    ...(a.group_name ? { groupName: a.group_name } : {}),
    description: a.description ?? a.op_description ?? '',
    deps: (a.dependencies ?? []).map((d) => d.upstream_asset_key),
    jobNames: a.job_names ?? [],
    ...(checksByAsset.has(a.asset_key) ? { checks: checksByAsset.get(a.asset_key) } : {}),
    ...optional('automationCondition', automationOf(a)),
    ...optional('freshnessPolicy', freshnessOf(a)),
  }));
  return {
    kind: 'dagster',
    ...(input.dagsterVersion ? { dagsterVersion: input.dagsterVersion } : {}),
    repositoryName: repo.name,
    jobs: repo.jobRefs.map((r) => mapJob(r.name, r.snapshotId, input.jobs[r.name], setByJob.get(r.name))),
    schedules: repo.external_schedule_datas.map((s) => ({
      name: s.name,
      job: s.pipeline_name,
      // Several crons are rare; Outpost's model has one, so the first is used.
      cron: Array.isArray(s.cron_schedule) ? (s.cron_schedule[0] ?? '') : s.cron_schedule,
      timezone: s.execution_timezone || 'UTC',
      defaultStatus: s.default_status === 'RUNNING' ? 'RUNNING' : 'STOPPED',
      description: s.description ?? '',
    })),
    sensors: repo.external_sensor_datas.map((s) => ({
      name: s.name,
      job: s.pipeline_name ?? Object.values(s.target_dict ?? {})[0]?.pipeline_name ?? '',
      minIntervalSeconds: Math.max(1, Math.round(s.min_interval ?? 30)),
      defaultStatus: s.default_status === 'RUNNING' ? 'RUNNING' : 'STOPPED',
      description: s.description ?? '',
      ...optional('unsupported', sensorUnsupported(s.name, s.sensor_type ?? undefined)),
    })),
    partitions: partitionSets.map((p) => ({ name: p.name, ...partitionsKind(p.external_partitions_data!) })),
    assets,
  };
}
