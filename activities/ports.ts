// The ports activities depend on, declared here and implemented by the agent (structurally:
// activities never import src/agent/). The composition root (src/cli/agent-root.ts)
// is the one place that knows both, so the compiler checks each implementation against its
// port there.
import type { Logger } from '../src/shared/logger.js';
import type { RunEvent } from '../src/shared/run-events.js';
import type { RunStatus } from '../src/shared/run-status.js';
import type { DagsterTarget } from '../src/shared/dagster-target.js';
import type { ExitStatus, LaunchHandle, RunLaunchSpec } from '../src/shared/launch.js';
import type { CodeLocationSpec, WorkItemPayload } from '../src/shared/work-items.js';
import type { CodeLocationCalls } from '../src/shared/code-location-calls.js';

export type { ExitStatus, LaunchHandle, RunLaunchSpec } from '../src/shared/launch.js';

/**
 * Asks a code location something, whatever kind of code server serves it (Outpost's SDK
 * server or a Dagster `api grpc` server): the calls of src/shared/code-location-calls.ts.
 */
export type CodeLocationPort = CodeLocationCalls;

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
  /** Runs whose recorded worker is alive on this host (at the agent's start: a restart's leftovers). */
  recordedRuns?(): string[];
  /** The run's first events are stored: work held back off its launch path may start now. */
  launchSettled?(runId: string): void;
  /**
   * Records durably on this host that the run's workflow asked to stop it, whether or not a worker
   * runs yet (runWorkflowV4's terminateProcess, which may come before the launch inside
   * supervision): a launch from then on starts no worker (`terminationRequested`), and stops
   * one it recovers after a crash (spawned, never recorded, so there was nothing to signal).
   */
  recordTermination?(runId: string): void;
  /** A worker started by a launch cut short here (agent killed before its record), recorded now; never spawns. */
  recoverLaunch?(runId: string): Promise<LaunchHandle | undefined>;
  /** Whether `recordTermination` was called for the run on this host (before or after a restart). */
  terminationRequested?(runId: string): boolean;
  /**
   * Settles when the run's worker exits, if this process started it and sees it exit (a child);
   * undefined otherwise (an adopted worker: liveness is then polled).
   */
  whenExited?(runId: string): Promise<void> | undefined;
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
  /** The launch (QUEUED -> STARTING) and the worker's first spool lines in one call; the cursor after them. */
  reportRunLaunchedWithEvents(
    agentId: string,
    runId: string,
    info: Record<string, unknown>,
    lines: string,
  ): Promise<RunCursor>;
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
  /** The terminal status the control plane answered this spool's appends with, if one did. */
  readonly endStatus?: RunStatus | undefined;
  /** Resolves when the spool changes, after `ms`, when `signal` aborts, or once `wakeOn`'s event has happened. */
  waitForWrite(ms: number, signal: AbortSignal): Promise<void>;
  /** True while writes to the spool wake waitForWrite (inotify): polling is then only a fallback. */
  readonly watching: boolean;
  /** Wakes waitForWrite when `event` settles (the worker exited), as a write would. */
  wakeOn(event: Promise<unknown>): void;
  /** True when this host recorded a request to terminate the run (Launcher.requestTermination). */
  terminationRecorded(): boolean;
  /** Where the spool is and the bytes left on its filesystem (undefined: could not tell): a full one explains a lost end. */
  space(): { dir: string; free: number | undefined };
  /**
   * Live processes (not this agent) holding the spool's files open for writing: the worker's
   * tree, found whatever pid the launcher recorded (src/agent/spool-writers.ts). Scans /proc:
   * asked only before the agent would end the run itself.
   */
  writers(): number[];
  /** Signals the process group of each writer; how many groups it reached. */
  signalWriters(signal: NodeJS.Signals): number;
  close(): void;
}

/** Opens run spools. */
export interface SpoolPort {
  /** The run's spool, shipping from what the control plane already has (`cursor`). */
  open(runId: string, cursor: RunCursor): RunSpool;
  /** Complete event lines of the spool after `afterSeq`, at most `max`, as written (NDJSON). */
  eventLinesAfter(runId: string, afterSeq: number, max: number): string;
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
  /**
   * The run's cursor as asked for when this agent claimed its launch (a moment ago), once; undefined
   * (or an answer of undefined): launchRun asks the control plane itself. Default: none.
   */
  prefetchedCursor?: (runId: string) => Promise<RunCursor | undefined> | undefined;
  /**
   * Launches the poller began once it started a run's workflow eagerly here, ahead of its first
   * task (`all` mode, src/agent/launch-ahead.ts): the launch activities serve it their launch,
   * and join the one begun for their run instead of launching again. Default: none.
   */
  launchAhead?: LaunchAheadPort;
  /**
   * Whether the run's workflow is still open in Temporal (undefined: could not tell). Asked when
   * a worker launched or recorded here goes unsupervised: a closed workflow's worker is stopped
   * and its run ended by the agent itself (unsupervised-runs.ts). Default: none (never asked).
   */
  runWorkflowOpen?: (runId: string) => Promise<boolean | undefined>;
  /** How often superviseRun polls the spool when idle; default 250 ms. */
  supervisePollMs?: number;
  /**
   * How often it polls instead when nothing needs polling: writes wake it (the spool is
   * watched) and so does the worker's exit (whenExited). Only a fallback and the heartbeat
   * then; default 2,000 ms (superviseRun's heartbeat timeout is 15 s).
   */
  superviseIdleMs?: number;
}

/** Where the launch activities meet a launch begun ahead of them (src/agent/launch-ahead.ts). */
export interface LaunchAheadPort {
  serve(starter: (payload: WorkItemPayload<'LAUNCH_RUN'>) => Promise<LaunchAheadOutcome>): void;
  join(runId: string): Promise<LaunchAheadOutcome | undefined> | undefined;
}

/** launchRun's outcome (run-process.ts's LaunchOutcome), declared here so the port needs no activity code. */
export type LaunchAheadOutcome = { launched: LaunchHandle } | { skipped: RunStatus };

export interface SuperviseOptions {
  /** The run is being terminated: a missing terminal event becomes RUN_CANCELED, not RUN_FAILURE. */
  terminating?: boolean;
  /**
   * Scheduled together with launchRun (the handle carries only the runId): wait until the launch
   * is reported, and return the stored status at once when it started no worker.
   */
  withLaunch?: boolean;
  /** runWorkflowV3: once the run has ended, complete this work item here (no local activity for it). */
  completeWorkItem?: string;
  /**
   * runWorkflowV4: launch the run first, here (join the launch begun ahead, else launch it,
   * idempotently), then supervise it. A run stopped before its launch ends here without a worker.
   */
  launch?: WorkItemPayload<'LAUNCH_RUN'>;
}

export interface SuperviseResult {
  status: RunStatus;
  lastSeq: number;
  /** The item named by `completeWorkItem` is completed with `status`. */
  itemCompleted?: true;
}
