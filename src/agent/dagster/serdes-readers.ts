// Permissive readers of Dagster serdes replies. Each picks only the fields Outpost needs (zod
// `.passthrough()` keeps the rest unvalidated), so fields added in later Dagster minors cannot break
// it; the raw string stays with the caller, to be forwarded as is (Dagster+'s own rule).
// Errors are in-band: a reply may be `SerializableErrorInfo` or `*ErrorData{error}`.
import { z } from 'zod';
import { OutpostError } from '../../shared/errors.js';
import { formatDagsterError, toUserCodeError } from './dagster-error.js';

export interface DagsterErrorInfo {
  clsName: string | null;
  message: string;
  stack: string[];
  cause: DagsterErrorInfo | null;
}

const ErrorInfoSchema: z.ZodType<DagsterErrorInfo> = z.lazy(() =>
  z
    .object({
      cls_name: z.string().nullish(),
      message: z.string().default(''),
      stack: z.array(z.string()).nullish(),
      cause: ErrorInfoSchema.nullish(),
    })
    .passthrough()
    .transform((e) => ({
      clsName: e.cls_name ?? null,
      message: e.message,
      stack: e.stack ?? [],
      cause: e.cause ?? null,
    })),
) as unknown as z.ZodType<DagsterErrorInfo>;

export type Read<T> = { ok: true; value: T } | { ok: false; error: DagsterErrorInfo };

function parseJson(raw: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new OutpostError('CODE_SERVER_BAD_RESPONSE', { detail: `${what}: not JSON`, cause: err });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new OutpostError('CODE_SERVER_BAD_RESPONSE', { detail: `${what}: expected a serdes object` });
  }
  return v as Record<string, unknown>;
}

/** The error carried by a reply, if it is one (`SerializableErrorInfo` or any `…ErrorData`). */
export function inBandError(v: Record<string, unknown>): DagsterErrorInfo | null {
  const cls = v.__class__;
  if (cls === 'SerializableErrorInfo') return ErrorInfoSchema.parse(v);
  if (typeof cls === 'string' && cls.endsWith('ErrorData') && v.error) return ErrorInfoSchema.parse(v.error);
  return null;
}

function read<S extends z.ZodTypeAny>(raw: string, cls: string, schema: S): Read<z.output<S>> {
  const v = parseJson(raw, cls);
  const error = inBandError(v);
  if (error) return { ok: false, error };
  if (v.__class__ !== cls) {
    throw new OutpostError('CODE_SERVER_BAD_RESPONSE', { detail: `expected ${cls}, got ${String(v.__class__)}` });
  }
  const parsed = schema.safeParse(v);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OutpostError('CODE_SERVER_BAD_RESPONSE', {
      detail: `${cls}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`,
    });
  }
  return { ok: true, value: parsed.data as z.output<S> };
}

/** Reads a reply that must not be an error; an in-band error becomes USER_CODE_ERROR. */
export function expectOk<T>(r: Read<T>, phase: string): T {
  if (r.ok) return r.value;
  throw new OutpostError('USER_CODE_ERROR', {
    detail: `${phase}: ${formatDagsterError(r.error)}`,
    data: { userCodeError: toUserCodeError(r.error, phase) },
  });
}

const obj = <T extends z.ZodRawShape>(shape: T) => z.object(shape).passthrough();
/** `{"__enum__": "Class.MEMBER"}` → "MEMBER". */
const enumName = z
  .object({ __enum__: z.string() })
  .nullish()
  .transform((e) => (e ? e.__enum__.split('.').pop()! : null));

// --- ListRepositories

const ListRepositoriesSchema = obj({
  repository_symbols: z.array(obj({ repository_name: z.string(), attribute: z.string().nullish() })),
  dagster_library_versions: z.record(z.string()).nullish(),
  executable_path: z.string().nullish(),
  entry_point: z.array(z.string()).nullish(),
  repository_code_pointer_dict: z.record(z.unknown()).nullish(),
}).transform((v) => ({
  repositories: v.repository_symbols.map((s) => ({ name: s.repository_name, attribute: s.attribute ?? null })),
  dagsterVersion: v.dagster_library_versions?.dagster ?? null,
  /** The interpreter run workers must use. */
  executablePath: v.executable_path ?? null,
  entryPoint: v.entry_point ?? ['dagster'],
  /** Per repository: the serdes code pointer, kept as is for run origins. */
  codePointers: v.repository_code_pointer_dict ?? {},
}));

/** `ListRepositoriesResponse`, or the location's load error. */
export const readListRepositories = (raw: string) => read(raw, 'ListRepositoriesResponse', ListRepositoriesSchema);

// --- ExternalRepository (deferred)

const AssetKey = obj({ path: z.array(z.string()) }).transform((k) => k.path.join('/'));

const PartitionsData: z.ZodType<PartitionsDataT> = z.lazy(() =>
  obj({
    __class__: z.string(),
    partition_keys: z.array(z.string()).nullish(),
    cron_schedule: z.string().nullish(),
    fmt: z.string().nullish(),
    start: z.number().nullish(),
    end: z.number().nullish(),
    end_offset: z.number().nullish(),
    exclusions: z.array(z.unknown()).nullish(),
    timezone: z.string().nullish(),
    name: z.string().nullish(),
    external_partition_dimension_definitions: z
      .array(obj({ name: z.string(), external_partitions_def_data: PartitionsData }))
      .nullish(),
  }),
);
export interface PartitionsDataT {
  __class__: string;
  partition_keys?: string[] | null;
  cron_schedule?: string | null;
  fmt?: string | null;
  start?: number | null;
  end?: number | null;
  end_offset?: number | null;
  exclusions?: unknown[] | null;
  timezone?: string | null;
  name?: string | null;
  external_partition_dimension_definitions?: { name: string; external_partitions_def_data: PartitionsDataT }[] | null;
}

const RepositoryDataSchema = obj({
  name: z.string(),
  external_job_refs: z.array(obj({ name: z.string(), snapshot_id: z.string() })).nullish(),
  external_schedule_datas: z.array(
    obj({
      name: z.string(),
      // A list of crons in newer Dagster when a schedule has several.
      cron_schedule: z.union([z.string(), z.array(z.string())]),
      execution_timezone: z.string().nullish(),
      pipeline_name: z.string(),
      description: z.string().nullish(),
      default_status: enumName.optional(),
    }),
  ),
  external_sensor_datas: z.array(
    obj({
      name: z.string(),
      pipeline_name: z.string().nullish(),
      min_interval: z.number().nullish(),
      description: z.string().nullish(),
      default_status: enumName.optional(),
      sensor_type: enumName.optional(),
      target_dict: z.record(obj({ pipeline_name: z.string() })).nullish(),
    }),
  ),
  external_partition_set_datas: z.array(
    obj({ name: z.string(), pipeline_name: z.string(), external_partitions_data: PartitionsData.nullish() }),
  ),
  external_asset_graph_data: z
    .array(
      obj({
        asset_key: AssetKey,
        group_name: z.string().nullish(),
        op_description: z.string().nullish(),
        description: z.string().nullish(),
        dependencies: z.array(obj({ upstream_asset_key: AssetKey })).nullish(),
        job_names: z.array(z.string()).nullish(),
        compute_kind: z.string().nullish(),
        is_source: z.boolean().nullish(),
        is_observable: z.boolean().nullish(),
        // Declarative automation: the condition travels inside the legacy auto-materialize policy
        // (its label, e.g. "eager"); a condition Dagster cannot serialize comes as a snapshot instead.
        auto_materialize_policy: obj({ asset_condition: obj({ label: z.string().nullish() }).nullish() }).nullish(),
        automation_condition_snapshot: obj({}).nullish(),
        // 1.11+: TimeWindowFreshnessPolicy / CronFreshnessPolicy; 1.9: the legacy policy.
        new_freshness_policy: obj({}).nullish(),
        freshness_policy: obj({}).nullish(),
      }),
    )
    .nullish(),
  // `ExternalAssetCheck` (AssetCheckNodeSnap in Dagster's code), one per check, by asset key.
  external_asset_checks: z
    .array(
      obj({
        name: z.string(),
        asset_key: AssetKey,
        description: z.string().nullish(),
        blocking: z.boolean().nullish(),
      }),
    )
    .nullish(),
});
export type RepositoryData = z.output<typeof RepositoryDataSchema>;

/** Deferred `ExternalRepositoryData`; job refs listed under jobRefs. Never an error reply. */
export function readRepositoryData(raw: string): RepositoryData & { jobRefs: { name: string; snapshotId: string }[] } {
  const v = expectOk(read(raw, 'ExternalRepositoryData', RepositoryDataSchema), 'repository snapshot');
  return { ...v, jobRefs: (v.external_job_refs ?? []).map((r) => ({ name: r.name, snapshotId: r.snapshot_id })) };
}

// --- ExternalJob

const stringTags = z
  .record(z.unknown())
  .nullish()
  .transform((t) =>
    Object.fromEntries(Object.entries(t ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
  );

const ConfigFieldSnap = obj({
  name: z.string(),
  type_key: z.string(),
  is_required: z.boolean().nullish(),
  default_provided: z.boolean().nullish(),
  default_value_as_json_str: z.string().nullish(),
  description: z.string().nullish(),
});
export type ConfigFieldSnapT = z.output<typeof ConfigFieldSnap>;

const ConfigTypeSnap = obj({
  key: z.string(),
  kind: enumName,
  scalar_kind: enumName.optional(),
  fields: z.array(ConfigFieldSnap).nullish(),
  type_param_keys: z.array(z.string()).nullish(),
  enum_values: z.array(obj({ value: z.string(), description: z.string().nullish() })).nullish(),
  description: z.string().nullish(),
  given_name: z.string().nullish(),
});
export type ConfigTypeSnapT = z.output<typeof ConfigTypeSnap>;

const JobDataSchema = obj({
  name: z.string(),
  pipeline_snapshot: obj({
    name: z.string(),
    description: z.string().nullish(),
    tags: stringTags,
    /** Tags every run of the job gets; absent (null) on a job that set none: then `tags` are. */
    run_tags: z.record(z.unknown()).nullish(),
    dep_structure_snapshot: obj({
      solid_invocation_snaps: z.array(
        obj({
          solid_name: z.string(),
          solid_def_name: z.string(),
          tags: stringTags,
          input_dep_snaps: z.array(
            obj({
              input_name: z.string(),
              upstream_output_snaps: z.array(obj({ solid_name: z.string(), output_name: z.string() })),
            }),
          ),
        }),
      ),
    }),
    solid_definitions_snapshot: obj({
      solid_def_snaps: z.array(
        obj({
          name: z.string(),
          description: z.string().nullish(),
          tags: stringTags,
          output_def_snaps: z.array(obj({ name: z.string() })).nullish(),
          config_field_snap: ConfigFieldSnap.nullish(),
        }),
      ),
    }),
    config_schema_snapshot: obj({ all_config_snaps_by_key: z.record(ConfigTypeSnap) }),
    mode_def_snaps: z.array(obj({ root_config_key: z.string().nullish() })),
  }),
});
export type JobData = z.output<typeof JobDataSchema>;

/** `ExternalJob` reply: the snapshot, or the error in `serialized_error`. */
export function readJobData(reply: { jobData: string; error: string }): Read<JobData> {
  if (reply.error) {
    const e = inBandError(parseJson(reply.error, 'ExternalJob error'));
    if (e) return { ok: false, error: e };
  }
  return read(reply.jobData, 'ExternalPipelineData', JobDataSchema);
}

// --- ExecutionPlanSnapshot: the plan, or why the run config is invalid

export const readExecutionPlan = (raw: string) =>
  read(
    raw,
    'ExecutionPlanSnapshot',
    obj({
      step_keys_to_execute: z.array(z.string()).nullish(),
      steps: z.array(
        obj({
          key: z.string(),
          kind: enumName,
          inputs: z
            .array(
              obj({
                name: z.string(),
                upstream_output_handles: z.array(obj({ step_key: z.string(), output_name: z.string() })).nullish(),
              }),
            )
            .nullish(),
        }),
      ),
    }).transform((p) => ({
      stepKeys: p.step_keys_to_execute ?? p.steps.map((s) => s.key),
      steps: p.steps.map((s) => ({
        key: s.key,
        kind: s.kind,
        upstream: [
          ...new Set((s.inputs ?? []).flatMap((i) => (i.upstream_output_handles ?? []).map((h) => h.step_key))),
        ],
      })),
    })),
  );

// --- partitions

export const readPartitionNames = (raw: string) =>
  read(
    raw,
    'ExternalPartitionNamesData',
    obj({ partition_names: z.array(z.string()) }).transform((v) => v.partition_names),
  );

export const readPartitionConfig = (raw: string) =>
  read(
    raw,
    'ExternalPartitionConfigData',
    obj({ name: z.string(), run_config: z.record(z.unknown()).nullish() }).transform((v) => v.run_config ?? {}),
  );

export const readPartitionTags = (raw: string) =>
  read(
    raw,
    'ExternalPartitionTagsData',
    obj({ name: z.string(), tags: stringTags }).transform((v) => v.tags),
  );

// --- schedule and sensor evaluations

const RunRequestSchema = obj({
  run_key: z.string().nullish(),
  job_name: z.string().nullish(),
  run_config: z.record(z.unknown()).nullish(),
  tags: stringTags,
  partition_key: z.string().nullish(),
  asset_selection: z.array(AssetKey).nullish(),
  asset_check_keys: z.array(obj({ asset_key: AssetKey, name: z.string() })).nullish(),
  stale_assets_only: z.boolean().nullish(),
  asset_graph_subset: z.unknown().optional(),
}).transform((r) => ({
  runKey: r.run_key ?? null,
  /** Null: the schedule's or sensor's own job. */
  jobName: r.job_name ?? null,
  runConfig: r.run_config ?? {},
  tags: r.tags,
  partitionKey: r.partition_key ?? null,
  assetSelection: r.asset_selection ?? null,
  /** `<asset key>:<check name>`; null: the checks of the selected assets (Dagster's default). */
  assetCheckKeys: r.asset_check_keys?.map((k) => `${k.asset_key}:${k.name}`) ?? null,
  staleAssetsOnly: r.stale_assets_only ?? false,
  /** A backfill's request (RunRequest.for_asset_graph_subset): no job, no selection. */
  assetGraphSubset: r.asset_graph_subset != null,
}));
export type DagsterRunRequest = z.output<typeof RunRequestSchema>;

export const readScheduleResult = (raw: string) =>
  read(
    raw,
    'ScheduleExecutionData',
    obj({ run_requests: z.array(RunRequestSchema).nullish(), skip_message: z.string().nullish() }).transform((v) => ({
      runRequests: v.run_requests ?? [],
      skipMessage: v.skip_message ?? null,
    })),
  );

/** Sensor result fields Outpost cannot act on yet: a non-empty one must fail the tick, not be dropped. */
export const UNSUPPORTED_SENSOR_FIELDS = [
  'dynamic_partitions_requests',
  'asset_events',
  'pipeline_run_reactions',
  'automation_condition_evaluations',
] as const;

export const readSensorResult = (raw: string) =>
  read(
    raw,
    'SensorExecutionData',
    obj({
      run_requests: z.array(RunRequestSchema).nullish(),
      skip_message: z.string().nullish(),
      cursor: z.string().nullish(),
    }).transform((v) => ({
      runRequests: v.run_requests ?? [],
      skipMessage: v.skip_message ?? null,
      /** Always the cursor to store: Dagster echoes the input when the sensor did not update it. */
      cursor: v.cursor ?? null,
      unsupported: UNSUPPORTED_SENSOR_FIELDS.filter((f) => {
        const x = (v as Record<string, unknown>)[f];
        return Array.isArray(x) && x.length > 0;
      }),
    })),
  );
