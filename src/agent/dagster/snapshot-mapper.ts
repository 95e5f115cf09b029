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
    })),
    partitions: partitionSets.map((p) => ({ name: p.name, ...partitionsKind(p.external_partitions_data!) })),
    assets,
  };
}
