// What a run launch is, as data: the spec the agent's launchers start and the handle they give
// back. Shared by the launchers (src/agent/launchers/), the activities' launcher port and the
// workflows (which only ever hold the opaque handle).
import type { DagsterTarget } from './dagster-target.js';

/** What to start. The launcher decides where the spool lives. */
export interface RunLaunchSpec {
  runId: string;
  location: string;
  job: string;
  runConfig: Record<string, unknown>;
  /** Definitions module of the code location. */
  module: string;
  /** Working directory of the run worker; default the agent's. */
  cwd?: string;
  /** Extra, non-secret environment from the location spec. */
  env?: Record<string, string>;
  /**
   * A Dagster location's run: the worker is `<python> -m dagster api execute_run` for this
   * target instead of Outpost's own (`module` is then unused). Never served by a warm standby.
   */
  dagster?: DagsterTarget;
  /** Run tags (Dagster runs carry them into the DagsterRun). */
  tags?: Record<string, string>;
  /** Asset keys (path parts joined with '/') the run materializes; all of the job's when absent. */
  assetSelection?: string[];
  /** Names of the job's ops the run executes (Dagster); all of them when absent. */
  opSelection?: string[];
}

/** Opaque to workflows: enough for the same launcher (on the same host) to find the run again. */
export interface LaunchHandle {
  runId: string;
  launcher: string;
  /** Launcher-specific identity, e.g. `pid 123 (start 456)`. For humans and logs only. */
  ref: string;
  /** True when an existing worker was adopted instead of spawning a new one. */
  adopted: boolean;
}

export interface ExitStatus {
  /** Exit code, when known. */
  code: number | null;
  /** Terminating signal, when known. */
  signal: string | null;
  /** False when the process exited while nobody was watching (exit status unknowable). */
  known: boolean;
}
