// The ports activities depend on, declared here and implemented by the agent (structurally:
// activities never import src/agent/). The composition root (src/cli/agent-root.ts)
// is the one place that knows both, so the compiler checks each implementation against its
// port there.
import type { Logger } from '../src/shared/logger.js';
import type { RunEvent } from '../src/shared/run-events.js';
import type { RunStatus } from '../src/shared/run-status.js';
import type { DagsterTarget } from '../src/shared/dagster-target.js';
import type { CodeLocationSpec, WorkItemPayload, WorkItemResult } from '../src/shared/work-items.js';

/**
 * Asks a code location something, whatever kind of code server serves it (Outpost's SDK
 * server or a Dagster `api grpc` server). Each method takes the work item's payload and
 * returns its result; user-code failures throw OutpostError USER_CODE_ERROR, a server that
 * is down or restarting throws CODE_SERVER_UNAVAILABLE (retried).
 */
export interface CodeLocationPort {
  /** Ensures the location's server runs at `version` (or later) and has reported its definitions. */
  sync(payload: WorkItemPayload<'SYNC_CODE_LOCATION'>): Promise<WorkItemResult<'SYNC_CODE_LOCATION'>>;
  evaluateSchedule(payload: WorkItemPayload<'EVALUATE_SCHEDULE'>): Promise<WorkItemResult<'EVALUATE_SCHEDULE'>>;
  evaluateSensor(payload: WorkItemPayload<'EVALUATE_SENSOR'>): Promise<WorkItemResult<'EVALUATE_SENSOR'>>;
  query(payload: WorkItemPayload<'QUERY_CODE_LOCATION'>): Promise<WorkItemResult<'QUERY_CODE_LOCATION'>>;
}

/** The locations of the agent's workspace, as the control plane deployed them. */
export interface WorkspacePort {
  /** The location's spec, re-reading the workspace once when it is not known yet; UNKNOWN_LOCATION otherwise. */
  spec(location: string): Promise<CodeLocationSpec>;
  /**
   * A loaded Dagster location's launch target (interpreter and code pointer its server
   * reported), waiting for a starting server; CODE_SERVER_UNAVAILABLE when none is loaded.
   */
  dagsterTarget(location: string): Promise<DagsterTarget>;
}

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
  /** A Dagster location's run: `dagster api execute_run` for this target (`module` unused). */
  dagster?: DagsterTarget;
  /** Run tags (a Dagster run carries them into its DagsterRun). */
  tags?: Record<string, string>;
  /** Asset keys to materialize (Dagster); absent = the whole job. */
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
  code: number | null;
  signal: string | null;
  /** False when the process exited while nobody was watching (exit status unknowable). */
  known: boolean;
}

/** Runs run workers on this host (the shape of src/agent/launchers/launcher.ts `Launcher`). */
export interface LauncherPort {
  /** Starts the run worker, or adopts one already recorded for this run. Idempotent. */
  launch(spec: RunLaunchSpec): Promise<LaunchHandle>;
  /** The recorded worker of a run, if this host ever launched one. */
  adopt(runId: string): Promise<LaunchHandle | undefined>;
  isAlive(runId: string): Promise<boolean>;
  /** Sends a signal to the whole worker (process group). False when nothing was there to signal. */
  signal(runId: string, signal: NodeJS.Signals): Promise<boolean>;
  /** Records on this host that the run was asked to stop, then SIGTERMs its group. False when nothing was signalled. */
  requestTermination(runId: string): Promise<boolean>;
  /** How the worker ended, once it has. */
  exitStatus(runId: string): ExitStatus | undefined;
}

/** What the control plane already has of a run: supervision resumes from here. */
export interface RunCursor {
  runId: string;
  lastSeq: number;
  stdoutBytes: number;
  stderrBytes: number;
  status: RunStatus;
}

/** The control-plane calls activities make (the agent API; each is idempotent). */
export interface ControlPlanePort {
  completeWork(agentId: string, id: string, result: unknown): Promise<void>;
  failWork(agentId: string, id: string, error: { code: string; message: string }): Promise<void>;
  reportRunLaunched(agentId: string, runId: string, info: Record<string, unknown>): Promise<RunStatus>;
  appendRunEvents(
    agentId: string,
    runId: string,
    events: RunEvent[],
  ): Promise<{ highestContiguousSeq: number; status: RunStatus }>;
  runCursor(agentId: string, runId: string): Promise<RunCursor>;
}

/** One run's spool (events and compute logs on this host) being shipped to the control plane. */
export interface RunSpool {
  /**
   * One pass over the spool. `final` means the writer is gone, so an unterminated last line
   * is complete. True when anything was shipped.
   */
  shipOnce(final: boolean): Promise<boolean>;
  /** Highest contiguous seq the control plane has. */
  readonly lastSeq: number;
  /** Highest seq seen in the spool. */
  readonly maxSeqInFile: number;
  readonly sawTerminalEvent: boolean;
  /** Resolves when the spool changes, after `ms`, or when `signal` aborts. */
  waitForWrite(ms: number, signal: AbortSignal): Promise<void>;
  /** True when this host recorded a request to terminate the run (Launcher.requestTermination). */
  terminationRecorded(): boolean;
  close(): void;
}

/** Opens run spools. */
export interface SpoolPort {
  /** The run's spool, shipping from what the control plane already has (`cursor`). */
  open(runId: string, cursor: RunCursor): RunSpool;
}

/** Everything activities are built from (`createActivities`). */
export interface ActivityDeps {
  controlPlane: ControlPlanePort;
  codeLocations: CodeLocationPort;
  workspace: WorkspacePort;
  launcher: LauncherPort;
  spool: SpoolPort;
  /** The executing agent's id (known after registerAgent). */
  agentId: () => string;
  /** The executing agent's host-local task queue (`outpost-host-<agentId>`). */
  hostTaskQueue: string;
  logger: Logger;
  /** Epoch ms; default Date.now. */
  clock?: () => number;
  /** How often superviseRun polls the spool when idle; default 250 ms. */
  supervisePollMs?: number;
}
