// The spawn plan of a Dagster run: `<python> -m dagster api execute_run <ExecuteRunArgs>` with
// the interpreter the code server reported, cwd = the location's working directory (a relative
// `python_file` in the code pointer resolves against it), DAGSTER_HOME = the run's own home,
// and Outpost's capture package (the repo's python/, resolved from this file, never
// pip-installed) first on PYTHONPATH; step subprocesses inherit all of it. The process
// launcher spawns it like any run worker: own process group, scrubbed env, sandbox, 0600 logs.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunLaunchSpec } from '../launchers/launcher.js';
import type { SpawnPlan } from '../launchers/launch-context.js';
import { artifactDirOf, DAGSTER_CONSOLE_LOG, writeDagsterRunFiles } from './dagster-run-files.js';
import type { DagsterTarget } from '../../shared/dagster-target.js';

/** The repo's python/ (holds the outpost_dagster package). */
export const CAPTURE_PYTHONPATH = fileURLToPath(new URL('../../../python', import.meta.url));

export function dagsterRunCommand(
  dataDir: string,
  runDir: string,
  spool: string,
  spec: RunLaunchSpec,
  target: DagsterTarget,
): SpawnPlan {
  const artifactDir = artifactDirOf(dataDir, spec.location);
  const { home, args } = writeDagsterRunFiles(runDir, spool, artifactDir, spec, target);
  const userPath = spec.env?.PYTHONPATH;
  return {
    cmd: [target.python, '-m', 'dagster', 'api', 'execute_run', args],
    place: { cwd: target.workingDirectory, writable: [spool, home, artifactDir] },
    extraEnv: {
      ...spec.env,
      OUTPOST_RUN_ID: spec.runId,
      DAGSTER_HOME: home,
      PYTHONPATH: userPath ? `${CAPTURE_PYTHONPATH}:${userPath}` : CAPTURE_PYTHONPATH,
      // User prints reach stdout.log as they happen, and survive a SIGKILL.
      PYTHONUNBUFFERED: '1',
      OUTPOST_DAGSTER_CONSOLE_LOG: join(spool, DAGSTER_CONSOLE_LOG),
    },
    // The exact argument: it holds the run id, and nothing else on the host has it.
    match: ['execute_run', args],
    // Termination is Dagster's: SIGTERM to the run worker alone, which logs it and sets each
    // step process's termination event. A step process SIGTERMed at that same moment (the
    // whole group) may exit while the worker is waking it, and the worker then waits for it
    // for good (multiprocessing's Condition.notify counts on the sleeper to wake).
    sigtermTo: ['dagster', 'execute_run', args],
  };
}
