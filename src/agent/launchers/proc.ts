// Linux /proc readers used to identify processes robustly: a pid plus its start time (in
// clock ticks since boot) names one process forever, so a recycled pid is never mistaken for
// the run worker we launched.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  startTime: number;
}

/** Parses /proc/<pid>/stat; undefined when the process does not exist. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 4 is ppid, field 5 pgrp, field 22 starttime.
  const state = rest[0] ?? '?';
  const ppid = Number(rest[1]);
  const pgrp = Number(rest[2]);
  const startTime = Number(rest[19]);
  return { pid, state, ppid, pgrp, startTime };
}

/** True when `pid` exists, is not a zombie and started at `startTime`. */
export function isSameLiveProcess(pid: number, startTime: number): boolean {
  const st = readProcStat(pid);
  return st !== undefined && st.startTime === startTime && st.state !== 'Z' && st.state !== 'X';
}

export function readCmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (from /proc/<pid>/task/<pid>/children, else a scan of every ppid). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return listPids().filter((p) => readProcStat(p)?.ppid === pid);
  }
}

/** Every live pid on the host. */
export function listPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Live (non-zombie) processes whose process group is `pgid`. */
export function processGroupMembers(pgid: number): number[] {
  return listPids().filter((pid) => {
    const st = readProcStat(pid);
    return st !== undefined && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X';
  });
}

/**
 * Finds a live process whose command line contains every one of `needles` in order-free
 * fashion. A sandbox repeats the command in its own command line (bwrap, then its pid 1, then
 * the command): the outermost match whose parent does not match is returned, and `prefer` may
 * pick a better one among its matching descendants (the launcher prefers the sandbox's pid 1).
 */
export function findProcessByArgs(
  needles: string[],
  prefer?: (outermost: number, matches: Set<number>) => number,
): number | undefined {
  const matches = new Set<number>();
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const argv = readCmdline(pid);
    if (!argv || !needles.every((n) => argv.includes(n))) continue;
    const st = readProcStat(pid);
    if (st && st.state !== 'Z') matches.add(pid);
  }
  for (const pid of matches) {
    if (matches.has(readProcStat(pid)?.ppid ?? -1)) continue;
    return prefer ? prefer(pid, matches) : pid;
  }
  return undefined;
}

/**
 * The process standing for a worker whose command line holds every one of `needles`, found from
 * the recorded `root` down: the root itself, or, where a sandbox repeats the command in its own
 * command lines (bwrap, then its pid 1), the deepest of the chain of matching children.
 * Undefined when the root does not match (it is gone, or another process's now).
 */
export function workerBelow(root: number, needles: readonly string[]): number | undefined {
  const matches = (pid: number): boolean => {
    const argv = readCmdline(pid);
    return argv !== undefined && needles.every((n) => argv.includes(n));
  };
  if (!matches(root)) return undefined;
  let pid = root;
  for (let depth = 0; depth < 4; depth++) {
    const next = childPids(pid).find(matches);
    if (next === undefined) break;
    pid = next;
  }
  return pid;
}
