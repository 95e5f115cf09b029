// The one small interface every way of running a run worker implements (processes now;
// containers or pods later). Workflows only ever see `LaunchHandle`, which is opaque: pids,
// files and container ids stay behind this interface, on the host that owns them.
import type { ExitStatus, LaunchHandle, RunLaunchSpec } from '../../shared/launch.js';

export type { ExitStatus, LaunchHandle, RunLaunchSpec } from '../../shared/launch.js';

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
  /** The run's first events are stored: work held back off its launch path may start now. */
  launchSettled?(runId: string): void;
  /**
   * Records durably on this host that the run's workflow asked to stop it, whether or not a worker
   * runs yet (runWorkflowV4's terminateProcess, which may come before the launch inside
   * supervision): a launch from then on starts no worker (`terminationRequested`), and stops
   * one it recovers after a crash (spawned, never recorded, so there was nothing to signal).
   */
  recordTermination?(runId: string): void;
  /**
   * The run's worker, recorded, or started by a launch cut short on this host (the agent killed
   * between its intent and its record): found and recorded now. Never spawns.
   */
  recoverLaunch?(runId: string): Promise<LaunchHandle | undefined>;
  /** Whether `recordTermination` was called for the run on this host (before or after a restart). */
  terminationRequested?(runId: string): boolean;
  /** Settles when the run's worker exits, if this process started it (undefined for an adopted one). */
  whenExited?(runId: string): Promise<void> | undefined;
}
