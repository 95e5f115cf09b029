// Which processes a burst of launches spawned, and what each kind cost: cold run workers
// (`api execute-run`), standbys that were handed a run, and standbys that never got one (booted
// for nothing: at the end of the burst, or replaced). A standby that took a run is told apart by
// its pid, or its parent's (a sandbox's pid 1), in the run's process.json (run-records.ts); a
// sandbox's own processes (bubblewrap) are counted apart, as the bench's roles do. CPU is each process's from the ledger
// (/proc, sampled while it lives), between two snapshots.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TreeCpuLedger } from './proc-cpu.js';
import type { Figure } from './report.js';

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

/** CPU (ms) of each thread of `pid` so far, summed by thread name (/proc/<pid>/task/<tid>/comm). */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const dir = `/proc/${pid}/task/${tid}`;
      const name = tid === String(pid) ? 'main' : readFileSync(`${dir}/comm`, 'utf8').trim();
      const f = readFileSync(`${dir}/stat`, 'utf8');
      const v = f
        .slice(f.lastIndexOf(')') + 2)
        .split(' ')
        .map(Number);
      out.set(name, (out.get(name) ?? 0) + (v[11]! + v[12]!) * 10);
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

/** "name ms, …" of the threads that used CPU between two readings, busiest first. */
export function threadCpuDelta(before: Map<string, number>, after: Map<string, number>, per = 1): string {
  return [...after]
    .map(([name, ms]) => [name, (ms - (before.get(name) ?? 0)) / per] as const)
    .filter(([, ms]) => ms > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `${name} ${ms.toFixed(1)}`)
    .join(', ');
}

/** The report's rows for it: processes per run, and CPU per process of each kind that ran one. */
export function burstProcessFigures(spawned: BurstProcesses, runs: number): Figure[] {
  const { cold, standbyUsed, standbyUnused, other } = spawned;
  return [
    {
      name: 'processes spawned per run over the burst',
      value: (cold.count + standbyUsed.count + standbyUnused.count) / runs,
      unit: 'count',
      note: `cold workers ${cold.count}, standbys handed a run ${standbyUsed.count}, standbys without a run ${standbyUnused.count} (${(standbyUnused.ms / runs).toFixed(1)} ms per run), sandbox (bubblewrap) processes ${other.count}`,
    },
    ...(['cold', 'standbyUsed'] as const).map((k) => ({
      name: `CPU per ${k === 'cold' ? 'cold worker' : 'standby handed a run'} over the burst`,
      value: spawned[k].ms / Math.max(1, spawned[k].count),
      unit: 'ms',
      note: `${spawned[k].count} processes; the floor sample boots and runs noop alone`,
    })),
  ];
}
