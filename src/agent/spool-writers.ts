// Which live processes hold a run's events.jsonl open for writing: the run worker itself (it
// keeps the file open to append its events, close-on-exec, so no child of user code inherits
// it), whatever pid the launcher recorded for it. Supervision asks this before the agent writes
// a run's ending itself: a recorded pid that is gone (e.g. a sandbox's outer process, which
// SIGTERM kills while the worker inside runs on) must not let the agent end a run whose worker
// still writes. The file is matched by device and inode, so a worker that sees its spool at
// another path (a standby's bind mount, a renamed directory) is found too. Linux /proc;
// elsewhere nothing is found (and supervision behaves as before).
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SPOOL_FILES } from '../shared/run-events.js';

const WATCHED: readonly string[] = [SPOOL_FILES.events];

/** A process holding the spool's events file open for writing, with its process group. */
export interface SpoolWriter {
  pid: number;
  pgid: number;
}

/** The event writers of the spool in `spoolDir`, other than `self` (this process only reads it). */
export function spoolWriters(spoolDir: string, self = process.pid): SpoolWriter[] {
  const files = new Set<string>();
  for (const name of WATCHED) {
    try {
      const st = statSync(join(spoolDir, name));
      files.add(`${st.dev}:${st.ino}`);
    } catch {
      // Not there (yet): nothing can hold it.
    }
  }
  if (!files.size) return [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  const own = processGroup(self);
  const out: SpoolWriter[] = [];
  for (const p of pids) {
    const pid = Number(p);
    if (pid === self || !holdsForWriting(pid, files)) continue;
    const pgid = processGroup(pid) ?? pid;
    // Never our own group: signalling it would reach this process (workers run detached).
    if (pgid !== own) out.push({ pid, pgid });
  }
  return out;
}

function holdsForWriting(pid: number, files: Set<string>): boolean {
  return writtenFiles(pid, (id) => files.has(id), true).length > 0;
}

/**
 * The `dev:ino` of every events file that a live process other than `self` holds open for writing:
 * one walk over /proc for a whole sweep of spools (spool-retention.ts), rather than one per spool.
 */
export function spoolsWrittenNow(self = process.pid): Set<string> {
  const out = new Set<string>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return out;
  }
  for (const p of pids) {
    if (Number(p) === self) continue;
    for (const id of writtenFiles(Number(p), () => true, false)) out.add(id);
  }
  return out;
}

/** The `dev:ino` of `pid`'s events files open for writing that `wanted` accepts (`first`: stop at one). */
function writtenFiles(pid: number, wanted: (id: string) => boolean, first: boolean): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // gone, or not ours to look at
  }
  const out: string[] = [];
  for (const fd of fds) {
    try {
      // The link's name is cheap and filters nearly every fd; the inode decides.
      if (!WATCHED.includes(basename(readlinkSync(`/proc/${pid}/fd/${fd}`)))) continue;
      const st = statSync(`/proc/${pid}/fd/${fd}`);
      const id = `${st.dev}:${st.ino}`;
      if (!wanted(id)) continue;
      // O_ACCMODE: 0 read-only (a reader such as `tail` does not keep a run going), 1 or 2 write.
      const flags = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags !== undefined && (parseInt(flags, 8) & 3) !== 0) {
        out.push(id);
        if (first) break;
      }
    } catch {
      // Closed meanwhile.
    }
  }
  return out;
}

/** The `dev:ino` key of the spool's events file, as spoolsWrittenNow() lists them; undefined when absent. */
export function eventsFileId(spoolDir: string): string | undefined {
  const st = statSync(join(spoolDir, SPOOL_FILES.events), { throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}` : undefined;
}

function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command's closing parenthesis: state, ppid, pgrp.
    const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    return Number.isInteger(pgrp) && pgrp > 0 ? pgrp : undefined;
  } catch {
    return undefined;
  }
}

/** Sends `signal` to the process group of each writer (once per group); how many groups it reached. */
export function signalSpoolWriters(writers: SpoolWriter[], signal: NodeJS.Signals): number {
  let reached = 0;
  for (const pgid of new Set(writers.map((w) => w.pgid))) {
    try {
      process.kill(-pgid, signal);
      reached++;
    } catch {
      // Gone already.
    }
  }
  return reached;
}
