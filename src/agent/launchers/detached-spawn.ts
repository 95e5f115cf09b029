// The one way a run worker (cold) or a warm standby is started: inside its isolation
// (sandbox.ts), with a credential-free environment, detached in its own process group so it
// outlives an agent restart, and its stdout/stderr appended to log files we open. Those logs
// hold whatever user code prints, so they are owner-only (0600) whichever path spawned them;
// two copies of this step had drifted on exactly that.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { credentialFreeEnv } from '../../shared/child-env.js';
import { SPOOL_FILES } from '../../shared/run-events.js';
import type { Isolation, SandboxPlace } from './sandbox.js';
import { NO_LINK_NO_WAIT } from '../../shared/user-writable-files.js';
import { defaultCliCommand } from '../../shared/cli-command.js';
import { withNodeCa, type NodeCaStore } from './node-ca.js';

/** Mode of a worker's stdout/stderr log files. */
export const WORKER_LOG_MODE = 0o600;

/** This Node on the CLI, compiled when the agent runs compiled, else through tsx (cli-command.ts). */
export { defaultCliCommand };

export interface DetachedSpawnSpec {
  /** The command, before isolation wraps it. */
  cmd: string[];
  isolation: Isolation;
  /** Where it runs and what its sandbox binds (cwd is also the process's cwd). */
  place: SandboxPlace;
  /** Directory holding stdout.log / stderr.log (created by the caller). */
  logDir: string;
  /** The agent's environment: credentials are stripped from it. */
  baseEnv: NodeJS.ProcessEnv;
  /** Variables added on top (the location's env, OUTPOST_RUN_ID). */
  extraEnv: Record<string, string>;
  /** Secrets the agent holds: no variable carrying one reaches the child. */
  secrets: string[];
  /** Open an IPC channel (warm standbys receive their run over it). */
  ipc?: boolean;
  /** The agent's certificate store: Outpost's own workers start with it (node-ca.ts). */
  nodeCa?: NodeCaStore;
}

/** Spawns it; the caller checks `child.pid` (undefined when the spawn failed). */
export function spawnDetached(s: DetachedSpawnSpec): ChildProcess {
  const env = credentialFreeEnv(s.baseEnv, s.extraEnv, { secrets: s.secrets });
  const start = withNodeCa(s.nodeCa, defaultCliCommand(), s.cmd, env);
  const place = start.applied ? { ...s.place, internal: [...(s.place.internal ?? []), s.nodeCa!.dir] } : s.place;
  const argv = s.isolation.command(start.cmd, place);
  // Opened by us in append mode, so a worker's output survives our restarts.
  const out = openWorkerLog(join(s.logDir, SPOOL_FILES.stdout));
  let err: number;
  try {
    err = openWorkerLog(join(s.logDir, SPOOL_FILES.stderr));
  } catch (e) {
    closeSync(out);
    throw e;
  }
  try {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: s.place.cwd,
      detached: true,
      stdio: s.ipc ? ['ignore', out, err, 'ipc'] : ['ignore', out, err],
      env: start.env,
    });
    // A failed spawn (no pid: a missing cwd or command) is also an 'error' event on the next
    // tick: unheard, an uncaught exception that kills the agent. The caller checks the pid.
    child.on('error', () => undefined);
    return child;
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

const LOG_APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | NO_LINK_NO_WAIT;

/**
 * Opens a worker log for appending, never through a link or into a FIFO: a spool the agent
 * spawns into again (a standby that did not take its run leaves it, with whatever its user code
 * put there) may hold one at the log's name, which would have had the run's output appended to
 * any file the agent can write. Such an entry is removed and the log created afresh.
 */
function openWorkerLog(file: string): number {
  let fd: number | undefined;
  try {
    fd = openSync(file, LOG_APPEND, WORKER_LOG_MODE);
    if (fstatSync(fd).isFile()) return fd;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ELOOP' && code !== 'ENXIO' && code !== 'EISDIR') throw e;
  }
  if (fd !== undefined) closeSync(fd);
  unlinkSync(file);
  return openSync(file, LOG_APPEND | constants.O_EXCL, WORKER_LOG_MODE);
}
