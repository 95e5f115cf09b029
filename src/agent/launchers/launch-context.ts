// What the process launcher's three paths (cold-spawn.ts, hand-off.ts, recovery.ts) share:
// the agent's settings for run workers and the launcher's watch over the children it started.
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../../shared/logger.js';
import type { BootSlots } from './boot-slots.js';
import type { NodeCaStore } from './node-ca.js';
import type { Isolation, SandboxPlace } from './sandbox.js';

/** What a cold spawn runs: Outpost's own worker, or another engine's (dagster-run-command.ts). */
export interface SpawnPlan {
  /** The command, before isolation wraps it. */
  cmd: string[];
  place: SandboxPlace;
  /** Added to the scrubbed environment (the location's env, OUTPOST_RUN_ID, ...). */
  extraEnv: Record<string, string>;
  /** argv elements that identify this run's worker in /proc (recovery.ts, after a crash). */
  match: string[];
  /**
   * argv elements of the one process a termination's SIGTERM goes to, instead of the whole
   * group (SIGKILL after the grace still takes the group). Set for a Dagster run worker, which
   * ends its step processes itself (see dagster-run-command.ts).
   */
  sigtermTo?: string[];
}

export interface LaunchContext {
  /** The launcher kind written into each LaunchHandle. */
  kind: string;
  dataDir: string;
  logger: Logger;
  isolation: Isolation;
  /** Command that starts the CLI (node + tsx + src/cli/main.ts by default). */
  cli: string[];
  env: NodeJS.ProcessEnv;
  secrets: string[];
  /** The agent's certificate store for Outpost's own workers (node-ca.ts). */
  nodeCa?: NodeCaStore;
  /** Niceness added to each run worker; 0/undefined = the agent's priority. */
  nice?: number;
  /** Cold spawns wait here for one of the N boot slots (boot-slots.ts). */
  bootSlots: BootSlots;
  /** Watches a child that now runs `runId` (its exit status is kept for supervise). */
  watch(runId: string, child: ChildProcess): void;
  /** Drops the watch (a standby that did not take the run). */
  unwatch(runId: string): void;
}
