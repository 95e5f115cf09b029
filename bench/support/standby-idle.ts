// What V8's memory reducer costs and saves in an idle standby run worker: compiled `noop`
// standbys as the agent starts them (its cli-command form from dist/, no sandbox, the location's
// compile cache linked), with the default flags and with each extra V8 flag given. For each idle
// time: CPU of the boot (spawn → `ready`), of the idle wait (`ready` → run sent) and of the run
// (run sent → exit), means of the samples; then RSS and private memory of idle standbys over a minute.
// Clock ticks are 10 ms: the CPU figures are means of many. Load-independent, mostly.
//   npx tsx bench/support/standby-idle.ts [--samples N] [--idle-s 2,10] [--flags=--no-memory-reducer,...] [--memory N]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { procTimes } from './proc-cpu.js';
import { compiledCli, HELLO_MODULE } from './stack.js';
import { runMain } from './report.js';
import { sleep } from '../../test/support/wait.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TICK_MS = 10;
/** When the memory section reads each idle standby, in s after they are all ready. */
const MEMORY_AT_S = [1, 3, 6, 10, 20, 30, 45, 60];

const arg = (name: string): string | undefined => {
  const eq = process.argv.find((a) => a.startsWith(`${name}=`));
  if (eq) return eq.slice(name.length + 1);
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const SAMPLES = Number(arg('--samples') ?? 8);
const IDLE_S = (arg('--idle-s') ?? '2,10').split(',').map(Number);
/** Variants: the default flags, and one per extra flag (a V8 flag changes Node's code-cache hash). */
const VARIANTS: Array<[string, string[]]> = [
  ['default', []],
  ...(arg('--flags') ?? '--no-memory-reducer')
    .split(',')
    .filter(Boolean)
    .map((f): [string, string[]] => [f, [f]]),
];
const MEMORY_PER_VARIANT = Number(arg('--memory') ?? 3);

interface IdleStandby {
  /** The worker (the shell's child). */
  pid: number;
  sh: ChildProcess;
  spool: string;
  bootMs: number;
  exited: Promise<string>;
}

interface Cpu {
  boot: number[];
  idle: number[];
  run: number[];
}

runMain(async () => {
  compiledCli(); // the build, rebuilt when stale
  const dir = mkdtempSync(join(tmpdir(), 'outpost-standby-idle-'));
  const env = { ...process.env, OUTPOST_TS_CACHE_DIR: join(dir, 'cache') };
  const module = resolve(ROOT, HELLO_MODULE);
  const dist = (f: string): string => pathToFileURL(join(ROOT, 'dist', 'src', 'shared', f)).href;
  let seq = 0;
  const live: IdleStandby[] = [];
  try {
    const { precompileLocation } = (await import(dist('ts-precompile.js'))) as {
      precompileLocation: (entry: string, cacheDir: string) => Promise<{ linked?: unknown }>;
    };
    const manifest = await precompileLocation(module, env.OUTPOST_TS_CACHE_DIR);
    if (!manifest.linked) throw new Error(`${HELLO_MODULE} was not linked: the workers would load it through hooks`);
    const { defaultCliCommand } = (await import(dist('cli-command.js'))) as { defaultCliCommand: () => string[] };
    const [node, ...cliArgs] = defaultCliCommand();

    /** One standby through a shell that prints its reaped child's CPU (the worker's) at the end. */
    const start = async (flags: string[]): Promise<IdleStandby> => {
      const spool = join(dir, `standby-${seq++}`);
      mkdirSync(spool);
      const cmd = [node!, ...flags, ...cliArgs, 'api', 'run-worker-standby', '--module', module];
      const sh = spawn('sh', ['-c', '"$@"; cat /proc/$$/stat >&3', 'sh', ...cmd], {
        stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'ipc'],
        env,
      });
      let stat = '';
      sh.stdio[3]!.on('data', (b: Buffer) => (stat += b.toString()));
      const exited = new Promise<string>((r) => sh.once('exit', () => r(stat)));
      const ready = await new Promise<{ type?: string; loadError?: string }>((r) => sh.once('message', r));
      if (ready.type !== 'ready' || ready.loadError) throw new Error(`standby not ready: ${JSON.stringify(ready)}`);
      const pid = Number(readFileSync(`/proc/${sh.pid}/task/${sh.pid}/children`, 'utf8').trim().split(' ')[0]);
      const bootMs = procTimes(pid)?.own;
      if (bootMs === undefined) throw new Error('the standby is gone before its run');
      const sb = { pid, sh, spool, bootMs, exited };
      live.push(sb);
      return sb;
    };

    /** Hands it a `noop` run: CPU while idle and of the run, ms. */
    const run = async (sb: IdleStandby): Promise<{ idle: number; run: number }> => {
      const before = procTimes(sb.pid)?.own;
      if (before === undefined) throw new Error('the standby exited while idle');
      sb.sh.send({ type: 'run', runId: `run_idle_${sb.pid}`, job: 'noop', runConfig: {}, spoolDir: sb.spool });
      const stat = await sb.exited;
      live.splice(live.indexOf(sb), 1);
      const f = stat
        .slice(stat.lastIndexOf(')') + 2)
        .split(' ')
        .map(Number);
      const total = (f[13]! + f[14]!) * TICK_MS;
      if (!readFileSync(join(sb.spool, 'events.jsonl'), 'utf8').includes('"RUN_SUCCESS"')) {
        throw new Error('the standby run did not succeed');
      }
      return { idle: before - sb.bootMs, run: total - before };
    };

    // CPU: per sample, one standby per (idle time, variant), booted one after the other (in
    // alternating order), each handed its run once idle that long.
    const cpu = new Map<string, Cpu>();
    for (let i = 0; i < SAMPLES; i++) {
      const waits: Promise<void>[] = [];
      for (const idle of IDLE_S) {
        for (const [name, flags] of i % 2 ? [...VARIANTS].reverse() : VARIANTS) {
          const sb = await start(flags);
          waits.push(
            (async () => {
              await sleep(idle * 1000);
              const r = await run(sb);
              const key = `${name} @ ${idle} s idle`;
              const c = cpu.get(key) ?? { boot: [], idle: [], run: [] };
              c.boot.push(sb.bootMs);
              c.idle.push(r.idle);
              c.run.push(r.run);
              cpu.set(key, c);
            })(),
          );
        }
      }
      await Promise.all(waits);
    }
    const mean = (a: number[]): string => (a.reduce((x, y) => x + y, 0) / a.length).toFixed(1);
    console.log(`CPU per standby, ms (mean of ${SAMPLES}; ticks of ${TICK_MS} ms): boot | idle | run`);
    for (const [key, c] of [...cpu].sort()) {
      console.log(`  ${key}: ${mean(c.boot)} | ${mean(c.idle)} | ${mean(c.run)}   runs [${c.run.join(' ')}]`);
    }

    // Memory: idle standbys of each variant side by side, read over a minute, then run.
    const idle: Array<[string, IdleStandby]> = [];
    for (let i = 0; i < MEMORY_PER_VARIANT; i++) {
      for (const [name, flags] of VARIANTS) idle.push([name, await start(flags)]);
    }
    const t0 = Date.now();
    console.log(`idle standbys, RSS / private MB (${MEMORY_PER_VARIANT} per variant)`);
    for (const at of MEMORY_AT_S) {
      await sleep(t0 + at * 1000 - Date.now());
      const row = VARIANTS.map(([name]) => {
        const mine = idle.filter(([n]) => n === name).map(([, sb]) => `${memMb(sb.pid, 'VmRSS')}/${privateMb(sb.pid)}`);
        return `${name} ${mine.join(' ')}`;
      });
      console.log(`  ${String(at).padStart(2)} s: ${row.join(' | ')}`);
    }
    for (const [, sb] of idle) await run(sb);
  } finally {
    for (const sb of live) sb.sh.kill('SIGKILL');
    for (const sb of live) {
      try {
        process.kill(sb.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A /proc/<pid>/status figure (VmRSS), MB. */
function memMb(pid: number, field: string): string {
  const kb = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return kb === undefined ? '?' : (Number(kb) / 1024).toFixed(1);
}

/** Pages only this process maps (what one more standby adds; PSS moves with other processes), MB. */
function privateMb(pid: number): string {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return ((kb('Private_Clean') + kb('Private_Dirty')) / 1024).toFixed(1);
}
