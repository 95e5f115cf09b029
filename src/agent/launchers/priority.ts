// Run workers may run at a lower priority than the agent (--run-worker-nice), so bursts of
// user-code start-ups cannot starve its heartbeats and shipping.
import { getPriority, setPriority } from 'node:os';
import { processGroupMembers, readProcStat } from './proc.js';

/**
 * Lowers the priority of a worker and of every process already in its group: a sandbox's pid 1
 * may have forked the command before we got here; what it forks later inherits from it.
 */
export function lowerPriority(pid: number, by: number, onError: (err: Error) => void): void {
  const nice = Math.min(19, getPriority(process.pid) + by);
  try {
    setPriority(pid, nice);
    for (const member of processGroupMembers(readProcStat(pid)?.pgrp ?? pid)) setPriority(member, nice);
  } catch (err) {
    onError(err as Error);
  }
}
