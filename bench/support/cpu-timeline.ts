// A burst's CPU timeline: where the cores sat idle and what the system was doing then.
// `startTimeline` runs cpu-timeline.mjs beside the burst (its own process, so the sampling does
// not stall the control plane's event loop); `timelineTable` bins its samples (default 250 ms)
// against the burst's own marks (each launchRun answered, each run's STARTING and STARTED times
// from the store) and prints, per bin: the machine's idle cores, our parts' CPU (agent, control
// plane + bench, Temporal, the agent's process tree), the agent's and control plane's main
// threads running and waiting for a CPU, processes alive/runnable under the agent, and how many
// runs were launched / STARTING / STARTED by the bin's end.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../../test/support/wait.js';

const TICK_MS = 10;

export interface Timeline {
  /** Stops sampling (a moment after the burst) and writes `<file>.md`: the table below. */
  finish(marks: Marks): Promise<void>;
}

/** Samples into `<file>.ndjson` from now on (a moment before the burst: its first bin is a baseline). */
export async function startTimeline(file: string, pids: Record<string, number>, intervalMs = 50): Promise<Timeline> {
  const args = Object.entries(pids).map(([k, v]) => `${k}=${v}`);
  const child: ChildProcess = spawn(
    process.execPath,
    [join(import.meta.dirname, 'cpu-timeline.mjs'), `${file}.ndjson`, String(intervalMs), ...args],
    { stdio: 'ignore' },
  );
  await sleep(300);
  return {
    async finish(marks) {
      await sleep(300);
      await new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      });
      writeFileSync(`${file}.md`, timelineTable(`${file}.ndjson`, Object.keys(pids), marks));
    },
  };
}

type Part = [ticks: number, runMs: number, waitMs: number, state: string] | null;
interface Row {
  t: number;
  cpu: number[];
  running: number;
  blocked: number;
  tree?: [n: number, ticks: number, r: number, d: number];
  [name: string]: unknown;
}

export interface Marks {
  t0: number;
  launched: number[];
  starting: number[];
  started: number[];
}

/** The timeline as a markdown table, one row per `binMs`, plus a summary of idle core-time by phase. */
export function timelineTable(file: string, parts: string[], marks: Marks, binMs = 250): string {
  const rows = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Row & { scan?: Array<[number, number, string, number, number]> });
  const scans = rows.filter((r) => r.scan);
  const busiest = scans.length === 2 ? hostConsumers(scans[0]!.scan!, scans[1]!.scan!) : '';
  rows.splice(0, rows.length, ...rows.filter((r) => !r.scan));
  const cores = cpus().length;
  const count = (xs: number[], t: number): number => xs.filter((x) => x <= t).length;
  const head = [
    't (s)',
    'idle cores',
    ...parts.map((p) => `${p} cores`),
    'tree cores',
    'others',
    'agent main run/wait',
    'cp main run/wait',
    'tree n/R',
    'running',
    'launched/STARTING/STARTED',
  ];
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => ' ---').join(' |')} |`];
  let i = 0;
  let idleTotal = 0;
  const idleByPhase = { launching: 0, after: 0 };
  const lastLaunch = Math.max(...marks.launched);
  while (i < rows.length - 1) {
    const a = rows[i]!;
    let j = i + 1;
    while (j < rows.length - 1 && rows[j]!.t - a.t < binMs) j++;
    const b = rows[j]!;
    const dt = b.t - a.t;
    const d = (k: number): number => (b.cpu[k]! - a.cpu[k]!) * TICK_MS;
    const total = b.cpu.reduce((s, x, k) => s + (x - a.cpu[k]!) * TICK_MS, 0);
    const idle = d(3) + d(4);
    const idleCores = total > 0 ? (idle / total) * cores : NaN;
    const partCores = (p: string): number => {
      const pa = a[p] as Part;
      const pb = b[p] as Part;
      return pa && pb ? ((pb[0] - pa[0]) * TICK_MS) / dt : NaN;
    };
    const runWait = (p: string): string => {
      const pa = a[p] as Part;
      const pb = b[p] as Part;
      return pa && pb ? `${((pb[1] - pa[1]) / dt).toFixed(2)}/${((pb[2] - pa[2]) / dt).toFixed(2)}` : '-';
    };
    const tree = b.tree && a.tree ? (Math.max(0, b.tree[1] - a.tree[1]) * TICK_MS) / dt : NaN;
    const ours = parts.reduce((s, p) => s + (partCores(p) || 0), 0) + (tree || 0);
    const others = (total - idle) / (total / cores) - ours;
    const rel = (b.t - marks.t0) / 1000;
    if (b.t >= marks.t0) {
      idleTotal += idleCores * dt;
      if (a.t < lastLaunch) idleByPhase.launching += idleCores * dt;
      else idleByPhase.after += idleCores * dt;
    }
    out.push(
      `| ${rel.toFixed(2)} | ${idleCores.toFixed(2)} | ${parts.map((p) => partCores(p).toFixed(2)).join(' | ')} | ${tree.toFixed(2)} | ${Math.max(0, others).toFixed(2)} | ${runWait('agent')} | ${runWait('cp')} | ${b.tree ? `${b.tree[0]}/${b.tree[2]}` : '-'} | ${b.running} | ${count(marks.launched, b.t)}/${count(marks.starting, b.t)}/${count(marks.started, b.t)} |`,
    );
    i = j;
  }
  out.push(
    '',
    `idle core-time from t0: ${(idleTotal / 1000).toFixed(2)} core-s (while launching ${(idleByPhase.launching / 1000).toFixed(2)}, after the last launch ${(idleByPhase.after / 1000).toFixed(2)}); last launch answered at ${((lastLaunch - marks.t0) / 1000).toFixed(2)} s`,
  );
  const first = rows.find((r) => r.t >= marks.t0) ?? rows[0]!;
  const last = rows.at(-1)!;
  const names = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'];
  const split = names.map((n, k) => `${n} ${(((last.cpu[k] ?? 0) - (first.cpu[k] ?? 0)) / 100).toFixed(2)}`).join(', ');
  return [...out, `/proc/stat from t0 (core-s): ${split}`, busiest].join('\n');
}

/** The processes that used the most CPU between two scans (alive at the end), and kernel threads' sum. */
function hostConsumers(
  a: Array<[number, number, string, number, number]>,
  b: Array<[number, number, string, number, number]>,
): string {
  const before = new Map(a.map(([pid, st, , , ticks]) => [`${pid}:${st}`, ticks]));
  let kernel = 0;
  const used = b.map(([pid, st, comm, ppid, ticks]) => {
    const ms = (ticks - (before.get(`${pid}:${st}`) ?? 0)) * TICK_MS;
    if (ppid === 2 || pid === 2) kernel += ms;
    return { pid, comm, ppid, ms };
  });
  used.sort((x, y) => y.ms - x.ms);
  const top = used.slice(0, 25).map((u) => `${u.comm}(${u.pid}<${u.ppid}) ${u.ms}`);
  return `\nkernel threads ${kernel} ms; top processes alive at the end (ms): ${top.join(', ')}`;
}
