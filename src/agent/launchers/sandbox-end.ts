// A sandboxed run ends with its worker, as a container's would. Under bubblewrap the recorded
// process is the sandbox's pid 1 (sandbox.ts), which reaps until no process of its PID namespace
// is left: a process the worker started and left running (its own session, a daemon: a Dagster
// op's Popen(start_new_session=True), the step processes of a Dagster worker SIGKILLed alone)
// kept the finished run's sandbox, and itself, running. So once the worker is gone and pid 1 is
// still there after a bounded wait, pid 1 gets SIGKILL, which ends the whole namespace.
//
// When the worker is gone:
//   watched (this agent spawned it): bwrap's outer process exited with a code. It reports the
//     status of the namespace's pid 2, the command, which pid 1 writes to it once it has reaped
//     that process (bubblewrap's do_init/monitor_child), so never while the worker still runs,
//     however long its SIGTERM clean-up takes. Killed by a signal itself instead, the outer
//     process says nothing about the worker inside (it may be running on, writing its spool).
//   adopted (an agent before a restart spawned it): no process below pid 1 runs the worker's
//     command line (outlivedItsWorker). Asked again after the wait, so a worker that shows up
//     meanwhile (pid 1 still forking it, on a starved host) is never killed.
import type { ProcessRecord } from './run-records.js';
import { isSameLiveProcess, workerBelow } from './proc.js';
import { isBwrap } from './sandbox.js';

/** How long a worker's exit waits for its recorded sandbox root to be gone by itself. */
export const ROOT_EXIT_WAIT_MS = 2_000;

/** How long a SIGKILLed root gets to be gone (a process in uninterruptible sleep holds it). */
const KILLED_ROOT_WAIT_MS = 10_000;

const POLL_MS = 2;

/**
 * Resolves once the recorded root `rec` has ended: by itself within ROOT_EXIT_WAIT_MS, else by
 * SIGKILL when it is a sandbox's pid 1 and `workerGone()` (asked then) holds; `onKill` is called
 * before the kill. A root still there otherwise, or past KILLED_ROOT_WAIT_MS after the kill, is
 * left as it is (the caller reads it as alive).
 */
export async function endRootAfterWorker(
  rec: ProcessRecord,
  workerGone: () => boolean,
  onKill: () => void,
): Promise<void> {
  const alive = (): boolean => isSameLiveProcess(rec.pid, rec.startTime);
  if (!(await whileAlive(alive, ROOT_EXIT_WAIT_MS)) || !isBwrap(rec.pid) || !workerGone()) return;
  onKill();
  try {
    process.kill(rec.pid, 'SIGKILL');
  } catch {
    return; // Gone in between.
  }
  await whileAlive(alive, KILLED_ROOT_WAIT_MS);
}

/** Polls until `alive()` is false or `ms` have passed; resolves with the last `alive()`. */
async function whileAlive(alive: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive()) {
    if (Date.now() >= deadline) return true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return false;
}

/**
 * Whether the recorded root is a sandbox's pid 1 (bwrap) with no process below it running the
 * worker's command line (`match`, as workerBelow reads it): what keeps that root is what the
 * finished worker left running. False for a root that is not bwrap (no sandbox: nothing to end).
 */
export function outlivedItsWorker(rec: ProcessRecord, match: readonly string[]): boolean {
  return isBwrap(rec.pid) && workerBelow(rec.pid, match) === rec.pid;
}
