// The one small interface every way of running a run worker implements (processes now;
// containers or pods later). Workflows only ever see `LaunchHandle`, which is opaque: pids,
// files and container ids stay behind this interface, on the host that owns them.
import type { DagsterTarget } from '../../shared/dagster-target.js';

/** What to start. The launcher decides where the spool lives and returns it. */
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

export interface Launcher {
  readonly kind: string;
  /** Starts the run worker, or adopts one already recorded for this run. Idempotent. */
  launch(spec: RunLaunchSpec): Promise<LaunchHandle>;
  /** The recorded worker of a run, if this host ever launched one. */
  adopt(runId: string): Promise<LaunchHandle | undefined>;
  isAlive(runId: string): Promise<boolean>;
  /** Sends a signal to the whole worker (process group). False when nothing was there to signal. */
  signal(runId: string, signal: NodeJS.Signals): Promise<boolean>;
  /**
   * Records on this host that the run was asked to terminate (so an exit without a terminal
   * event reads as CANCELED), then SIGTERMs its worker group. False when nothing was signalled.
   */
  requestTermination(runId: string): Promise<boolean>;
  /** How the worker ended, once it has. */
  exitStatus(runId: string): ExitStatus | undefined;
  /** Directory holding the worker's events.jsonl, stdout.log and stderr.log. */
  spoolDir(runId: string): string;
}
