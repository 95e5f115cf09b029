// Idle footprint of `npm start` as a user runs it: every process of the tree (npm itself, the
// shell npm runs the script in, the `outpost dev` supervisor, the Temporal dev server, the
// control plane, the agent, the example's code server and the warm standby run worker) and
// their sum, compiled (npm's prestart builds dist/ when it is stale). Idle = the sign-in link
// is printed, then a settle time; mean RSS and PSS of the samples after it, and the tree's
// memory counting shared file pages once (bench/support/smaps.ts): RSS counts the node binary
// in each of the seven Node processes.
//   npx tsx bench/footprint-dev.ts [--quick] [--settle-s <seconds after the sign-in link>]
// A heap snapshot of the idle agent: see bench/README.md (SIGUSR2 is Temporal's shutdown signal,
// so NODE_OPTIONS=--heapsnapshot-signal=SIGWINCH).
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { devPlace } from '../test/support/dev-stack.js';
import { alive, descendants } from '../test/support/process.js';
import { sleep } from '../test/support/wait.js';
import { distinctMb, pssMb } from './support/smaps.js';
import { cpuMs, rssMb } from './support/stack.js';
import { isQuick, report, type Figure } from './support/report.js';

const quick = isQuick();
// V8 shrinks a heap some 30-60 s after the last burst of work (its memory reducer): a sample
// before that sees start-up's young generation still committed. --settle-s <n> waits longer.
const settleArg = process.argv.indexOf('--settle-s');
const SETTLE_MS = settleArg > 0 ? Number(process.argv[settleArg + 1]) * 1000 : quick ? 10_000 : 30_000;
const SAMPLES = quick ? 5 : 20;
const ROOT = resolve(import.meta.dirname, '..');

/** Which part of the stack a process is, from its command line. */
export function roleOf(cmdline: string[]): string {
  const joined = cmdline.join(' ');
  if (cmdline.includes('run-worker-standby')) return 'warm standby run worker';
  if (cmdline.includes('code-server')) return 'code server';
  if (/temporal/.test(cmdline[0] ?? '') && cmdline.includes('server')) return 'Temporal dev server';
  if (cmdline.includes('control-plane')) return 'control plane';
  if (cmdline.includes('agent')) return 'agent';
  if (cmdline.includes('dev')) return 'outpost dev (supervisor)';
  if (/npm/.test(joined)) return 'npm';
  if (/^(\/bin\/)?(sh|bash|dash)$/.test(cmdline[0] ?? '')) return 'sh (npm script shell)';
  return `other: ${joined.slice(0, 60)}`;
}

function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

async function main(): Promise<void> {
  const { dataDir, args } = await devPlace('outpost-bench-footprint-dev-');
  const npm = spawn('npm', ['start', '--silent', '--', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, OUTPOST_LOG_LEVEL: 'warn' },
  });
  const output: string[] = [];
  const ready = new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`npm start not ready:\n${output.slice(-30).join('\n')}`)), 600_000);
    for (const s of [npm.stdout, npm.stderr]) {
      createInterface({ input: s }).on('line', (l) => {
        output.push(l);
        if (/signin#code=/.test(l)) {
          clearTimeout(timer);
          res();
        }
      });
    }
    npm.once('exit', (c) => rej(new Error(`npm start exited (${c}):\n${output.slice(-30).join('\n')}`)));
  });
  try {
    await ready;
    await sleep(SETTLE_MS);
    const pids = [npm.pid!, ...descendants(npm.pid!)];
    const roles = new Map(pids.map((pid) => [pid, roleOf(cmdlineOf(pid))]));
    const samples = new Map<string, number[]>();
    const pss = new Map<string, number[]>();
    const distinct: number[] = [];
    const cpu0 = new Map(pids.map((pid) => [pid, cpuMs(pid)]));
    const t0 = Date.now();
    for (let i = 0; i < SAMPLES; i++) {
      const byRole = new Map<string, number>();
      const pssByRole = new Map<string, number>();
      const live = pids.filter((pid) => alive(pid));
      for (const pid of live) {
        const role = roles.get(pid)!;
        byRole.set(role, (byRole.get(role) ?? 0) + rssMb(pid));
        pssByRole.set(role, (pssByRole.get(role) ?? 0) + pssMb(pid));
      }
      for (const [role, mb] of byRole) samples.set(role, [...(samples.get(role) ?? []), mb]);
      for (const [role, mb] of pssByRole) pss.set(role, [...(pss.get(role) ?? []), mb]);
      samples.set('total', [...(samples.get('total') ?? []), [...byRole.values()].reduce((s, x) => s + x, 0)]);
      pss.set('total', [...(pss.get('total') ?? []), [...pssByRole.values()].reduce((s, x) => s + x, 0)]);
      distinct.push(distinctMb(live));
      await sleep(1_000);
    }
    const ms = Date.now() - t0;
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    const cpuOf = (role: string): number =>
      pids.filter((p) => roles.get(p) === role && alive(p)).reduce((s, p) => s + cpuMs(p) - cpu0.get(p)!, 0);
    const figures: Figure[] = [];
    for (const [role, xs] of samples) {
      if (role === 'total') continue;
      figures.push({
        name: `${role} idle RSS`,
        value: mean(xs),
        unit: 'MB',
        ...(role === 'agent' ? { target: '≤ 150 MB' } : {}),
        note: `PSS ${mean(pss.get(role)!).toFixed(0)} MB; CPU ${((cpuOf(role) / ms) * 100).toFixed(2)} % of a core`,
      });
    }
    figures.push({
      name: '`npm start` idle, all processes',
      value: mean(samples.get('total')!),
      unit: 'MB',
      target: '≤ 600 MB',
      note: `RSS sum of ${pids.length} processes, mean of ${SAMPLES} samples`,
    });
    figures.push({
      name: '`npm start` idle, all processes, PSS',
      value: mean(pss.get('total')!),
      unit: 'MB',
      note: 'PSS sum: pages shared with any process of the host divided among them (host-dependent)',
    });
    figures.push({
      name: '`npm start` idle, all processes, shared pages once',
      value: mean(distinct),
      unit: 'MB',
      note: 'private pages summed + each file’s shared pages counted once: the PSS sum on a host of its own',
    });
    report(quick ? 'footprint-dev-quick' : 'footprint-dev', { quick, settleMs: SETTLE_MS, samples: SAMPLES }, figures);
  } finally {
    if (npm.exitCode === null) {
      process.kill(-npm.pid!, 'SIGINT');
      await new Promise((r) => npm.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
