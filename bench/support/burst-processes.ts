// Which processes a burst of launches spawned, and what each kind cost: cold run workers
// (`api execute-run`), standbys that were handed a run, and standbys that never got one (booted
// for nothing: at the end of the burst, or replaced). A standby that took a run is told apart by
// its pid, or its parent's (a sandbox's pid 1), in the run's process.json (run-records.ts); a
// sandbox's own processes (bubblewrap) are counted apart, as the bench's roles do. CPU is each process's from the ledger
// (/proc, sampled while it lives), between two snapshots.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TreeCpuLedger } from './proc-cpu.js';

type Snapshot = ReturnType<TreeCpuLedger['processes']>;

export interface BurstProcesses {
  cold: { count: number; ms: number };
  standbyUsed: { count: number; ms: number };
  standbyUnused: { count: number; ms: number };
  /** Sandbox processes (bubblewrap), and anything else. */
  other: { count: number; ms: number };
}

/** Pids of every run's worker recorded under the agent's data dir (runs/<id>/process.json). */
export function runWorkerPids(agentDataDir: string): Set<number> {
  const out = new Set<number>();
  let ids: string[] = [];
  try {
    ids = readdirSync(join(agentDataDir, 'runs'));
  } catch {
    return out;
  }
  for (const id of ids) {
    try {
      out.add(
        (JSON.parse(readFileSync(join(agentDataDir, 'runs', id, 'process.json'), 'utf8')) as { pid: number }).pid,
      );
    } catch {
      // Not launched (yet), or not by a process.
    }
  }
  return out;
}

/** The agent's descendants that ran between `before` and `after`, by kind, with their CPU over that span. */
export function burstProcesses(before: Snapshot, after: Snapshot, runPids: Set<number>): BurstProcesses {
  const out: BurstProcesses = {
    cold: { count: 0, ms: 0 },
    standbyUsed: { count: 0, ms: 0 },
    standbyUnused: { count: 0, ms: 0 },
    other: { count: 0, ms: 0 },
  };
  for (const [key, p] of after) {
    if (p.role === 'self') continue;
    const ms = p.ms - (before.get(key)?.ms ?? 0);
    if (ms <= 0 && before.has(key)) continue;
    const kind = /^\S*bwrap /.test(p.cmd)
      ? 'other'
      : / api execute-run /.test(p.cmd)
        ? 'cold'
        : / api run-worker-standby /.test(p.cmd)
          ? runPids.has(p.pid) || runPids.has(p.ppid)
            ? 'standbyUsed'
            : 'standbyUnused'
          : 'other';
    out[kind].count++;
    out[kind].ms += ms;
  }
  return out;
}
