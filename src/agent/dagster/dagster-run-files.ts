// The files a Dagster run worker reads, all written by the agent (no Python step before the
// worker itself, nothing pip-installed): per run `<runDir>/dagster_home/` holding
//   dagster.yaml  the instance: Outpost's capture storages (python/outpost_dagster), SQLite
//                 schedule storage, no compute-log capture, telemetry off, and a per-location
//                 persistent artifact dir so a run can load assets an earlier run wrote;
//   run.json      the serdes DagsterRun (NOT_STARTED) that CancelAwareRunStorage seeds;
// and the serdes ExecuteRunArgs the worker takes as its one argument. Legacy wire names
// (PipelineRun, pipeline_code_origin, ...) as in serdes.ts: an unknown `__class__` is fatal.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OutpostError } from '../../shared/errors.js';
import type { RunLaunchSpec } from '../launchers/launcher.js';
import type { DagsterTarget } from '../../shared/dagster-target.js';
import { jsonValue, serialize, type SerdesValue } from './serdes.js';

const HOME = 'dagster_home';
const ARTIFACTS = 'artifacts';
/** Dagster's console echo, kept out of stderr.log (python/outpost_dagster/console.py). */
export const DAGSTER_CONSOLE_LOG = 'dagster-console.log';

export const dagsterHomeOf = (runDir: string): string => join(runDir, HOME);

/** `<agent data dir>/artifacts/<location>/`: outlives runs, so assets carry across them. */
export function artifactDirOf(dataDir: string, location: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(location) || location.startsWith('.')) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: `location name ${location}` });
  }
  return join(dataDir, ARTIFACTS, location);
}

/** The job's code origin: what the worker imports, exactly as the code server loaded it. */
export function jobCodeOrigin(target: DagsterTarget, job: string): SerdesValue {
  return {
    __class__: 'PipelinePythonOrigin',
    pipeline_name: job,
    repository_origin: {
      __class__: 'RepositoryPythonOrigin',
      code_pointer: jsonValue(target.codePointer),
      executable_path: target.python,
      entry_point: target.entryPoint,
      container_image: null,
      container_context: {},
    },
  };
}

const assetKey = (key: string): SerdesValue => ({ __class__: 'AssetKey', path: key.split('/') });

export function pipelineRun(spec: RunLaunchSpec, target: DagsterTarget): string {
  return serialize({
    __class__: 'PipelineRun',
    run_id: spec.runId,
    pipeline_name: spec.job,
    run_config: jsonValue(spec.runConfig),
    tags: jsonValue(spec.tags ?? {}),
    status: { __enum__: 'PipelineRunStatus.NOT_STARTED' },
    asset_selection: spec.assetSelection ? { __frozenset__: spec.assetSelection.map(assetKey) } : null,
    // Op names, never Dagster's query syntax (the control plane refuses it): the names are the
    // resolved selection too, and the worker runs that subset of the job.
    solid_selection: spec.opSelection ? [...spec.opSelection] : null,
    solids_to_execute: spec.opSelection ? { __frozenset__: [...spec.opSelection] } : null,
    step_keys_to_execute: null,
    root_run_id: null,
    parent_run_id: null,
    pipeline_snapshot_id: null,
    execution_plan_snapshot_id: null,
    external_pipeline_origin: null,
    pipeline_code_origin: jobCodeOrigin(target, spec.job),
    has_repository_load_data: false,
  });
}

export function executeRunArgs(spec: RunLaunchSpec, target: DagsterTarget): string {
  return serialize({
    __class__: 'ExecuteRunArgs',
    pipeline_origin: jobCodeOrigin(target, spec.job),
    pipeline_run_id: spec.runId,
    // null: the worker loads $DAGSTER_HOME/dagster.yaml.
    instance_ref: null,
    set_exit_code_on_failure: true,
  });
}

interface InstancePaths {
  home: string;
  spool: string;
  runFile: string;
  artifactDir: string;
}

/** dagster.yaml, written as JSON (a subset of YAML): no quoting rules to get wrong for paths. */
export function dagsterYaml(p: InstancePaths): string {
  const storage = join(p.home, 'storage');
  const cls = (module: string, klass: string, config?: Record<string, string>) => ({
    module,
    class: klass,
    ...(config ? { config } : {}),
  });
  return JSON.stringify(
    {
      run_storage: cls('outpost_dagster.storage', 'CancelAwareRunStorage', {
        base_dir: storage,
        spool_dir: p.spool,
        run_file: p.runFile,
      }),
      event_log_storage: cls('outpost_dagster.storage', 'SpoolEventLogStorage', {
        base_dir: join(storage, 'history'),
        spool_dir: p.spool,
      }),
      schedule_storage: cls('dagster._core.storage.schedules', 'SqliteScheduleStorage', {
        base_dir: join(storage, 'schedules'),
      }),
      // Op stdout/stderr go to the worker's inherited fds: the spool's stdout.log / stderr.log.
      compute_logs: cls('dagster._core.storage.noop_compute_log_manager', 'NoOpComputeLogManager'),
      // fs_io_manager writes under <base_dir>/storage: persistent per location, not per run.
      local_artifact_storage: cls('dagster._core.storage.root', 'LocalArtifactStorage', {
        base_dir: p.artifactDir,
      }),
      telemetry: { enabled: false },
    },
    null,
    2,
  );
}

export interface DagsterRunFiles {
  home: string;
  /** The worker's one argument (serdes ExecuteRunArgs). */
  args: string;
}

/** Writes dagster.yaml and run.json for the run; creates its home and the location's artifact dir. */
export function writeDagsterRunFiles(
  runDir: string,
  spool: string,
  artifactDir: string,
  spec: RunLaunchSpec,
  target: DagsterTarget,
): DagsterRunFiles {
  const home = dagsterHomeOf(runDir);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  mkdirSync(artifactDir, { recursive: true, mode: 0o700 });
  const runFile = join(home, 'run.json');
  writeFileSync(runFile, pipelineRun(spec, target), { mode: 0o600 });
  writeFileSync(join(home, 'dagster.yaml'), dagsterYaml({ home, spool, runFile, artifactDir }), { mode: 0o600 });
  return { home, args: executeRunArgs(spec, target) };
}
