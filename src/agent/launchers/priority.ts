// Run workers may run at a lower priority than the agent (--run-worker-nice), so bursts of
// user-code start-ups cannot starve its heartbeats and shipping. A standby's boot may run lower
// still until a launch needs it (standby-pool.ts), where the agent can give the priority back.
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { processGroupMembers, readProcStat } from './proc.js';

/** CAP_SYS_NICE's bit in /proc/<pid>/status CapEff. */
const CAP_SYS_NICE = 23n;

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

/**
 * Whether this process may set a child's niceness back down to `nice` once it raised it:
 * CAP_SYS_NICE, or an RLIMIT_NICE that allows it (20 - nice ≤ the soft limit). Without either,
 * Linux refuses (EPERM) and a lowered process would stay slowed for good.
 */
export function canRestorePriority(nice: number, proc = '/proc/self'): boolean {
  try {
    const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync(`${proc}/status`, 'utf8'))?.[1];
    if (capEff && (BigInt(`0x${capEff}`) >> CAP_SYS_NICE) & 1n) return true;
    const limit = /^Max nice priority\s+(\d+)/m.exec(readFileSync(`${proc}/limits`, 'utf8'))?.[1];
    return limit !== undefined && 20 - nice <= Number(limit);
  } catch {
    return false;
  }
}

/**
 * Sets the niceness of every thread of these processes: on Linux setpriority applies to one
 * thread, and a process's threads that exist already keep their own. Best effort: a process
 * or thread gone meanwhile is skipped; false when any could not be set (EPERM).
 */
export function setThreadsPriority(pids: Iterable<number>, nice: number): boolean {
  let ok = true;
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone
    }
    for (const tid of tids) {
      try {
        setPriority(Number(tid), nice);
      } catch (err) {
        // Node's SystemError carries the errno's name in `info`.
        if ((err as { info?: { code?: string } }).info?.code !== 'ESRCH') ok = false;
      }
    }
  }
  return ok;
}
