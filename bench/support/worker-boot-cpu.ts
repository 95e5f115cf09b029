// CPU (user + system, from /proc) of one compiled `noop` run worker, as the agent starts it (its
// cli-command form from dist/, no sandbox) with the location's compile cache filled and linked
// first, as the agent fills it before a location's code server starts: a cold worker spawn →
// exit, and a warm standby boot → `ready` and its run handed over → exit. Against `node -e 0`,
// the least any Node process costs here. Clock ticks are 10 ms: the figures are means of many.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commandCpuMs, procTimes } from './proc-cpu.js';
import { compiledCli, HELLO_MODULE } from './stack.js';
import type * as NodeCa from '../../src/agent/launchers/node-ca.js';

type NodeCaModule = typeof NodeCa;

const ROOT = resolve(import.meta.dirname, '..', '..');
const TICK_MS = 10;

export interface BootCpu {
  /** `node -e 0`, ms each. */
  node: number[];
  /** A cold `api execute-run` of `noop`, spawn → exit, ms each. */
  cold: number[];
  /** A standby: spawn → `ready` (boot) and `ready` → exit (the run handed over), ms each. */
  standbyBoot: number[];
  standbyRun: number[];
}

/** `samples` of each, interleaved so they see the same load. */
export async function workerBootCpu(samples: number): Promise<BootCpu> {
  compiledCli(); // the build, rebuilt when stale
  const dir = mkdtempSync(join(tmpdir(), 'outpost-boot-cpu-'));
  const env = { ...process.env, OUTPOST_TS_CACHE_DIR: join(dir, 'cache') };
  const module = resolve(ROOT, HELLO_MODULE);
  const dist = (f: string): string => pathToFileURL(join(ROOT, 'dist', 'src', 'shared', f)).href;
  try {
    const { precompileLocation } = (await import(dist('ts-precompile.js'))) as {
      precompileLocation: (entry: string, cacheDir: string) => Promise<{ linked?: unknown }>;
    };
    const manifest = await precompileLocation(module, env.OUTPOST_TS_CACHE_DIR);
    if (!manifest.linked) throw new Error(`${HELLO_MODULE} was not linked: the workers would load it through hooks`);
    const { defaultCliCommand } = (await import(dist('cli-command.js'))) as { defaultCliCommand: () => string[] };
    const cli = defaultCliCommand();
    // The agent's own start (src/agent/launchers/node-ca.ts): its certificate store instead of
    // NODE_EXTRA_CA_CERTS when that is exact, else the command as it is.
    const nodeCa = (await import(
      pathToFileURL(join(ROOT, 'dist', 'src', 'agent', 'launchers', 'node-ca.js')).href
    )) as NodeCaModule;
    const store = nodeCa.nodeCaStore(join(dir, 'data'), env);
    const start = (cmd: string[]): { cmd: string[]; env: NodeJS.ProcessEnv } => nodeCa.withNodeCa(store, cli, cmd, env);
    // The least a Node process costs, started the same way (with the store, `node -e 0` too).
    const entry = start([...cli]);
    const bare = [...entry.cmd.slice(0, entry.cmd.length - cli.length + 1), '-e', '0'];
    const out: BootCpu = { node: [], cold: [], standbyBoot: [], standbyRun: [] };
    for (let i = 0; i < samples; i++) {
      out.node.push((await commandCpuMs(bare, { env: entry.env })).cpuMs);
      const spool = join(dir, `cold-${i}`);
      mkdirSync(spool);
      const args = ['api', 'execute-run', '--run-id', `cold_${i}`, '--module', module, '--job', 'noop'];
      const coldStart = start([...cli, ...args, '--spool-dir', spool]);
      const cold = await commandCpuMs(coldStart.cmd, { env: coldStart.env });
      if (cold.code !== 0) throw new Error(`cold worker exited ${cold.code}`);
      out.cold.push(cold.cpuMs);
      const standby = await standbyCpu(
        start([...cli, 'api', 'run-worker-standby', '--module', module]),
        join(dir, `warm-${i}`),
      );
      out.standbyBoot.push(standby.boot);
      out.standbyRun.push(standby.run);
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One standby through a shell that reports the CPU of what it waited for (the worker's, after it
 * exits); its own CPU at `ready` is read from /proc while it waits for a run.
 */
async function standbyCpu(
  start: { cmd: string[]; env: NodeJS.ProcessEnv },
  spool: string,
): Promise<{ boot: number; run: number }> {
  mkdirSync(spool);
  const sh = spawn('sh', ['-c', '"$@"; cat /proc/$$/stat >&3', 'sh', ...start.cmd], {
    stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'ipc'],
    env: start.env,
  });
  let stat = '';
  sh.stdio[3]!.on('data', (b: Buffer) => (stat += b.toString()));
  const exited = new Promise<void>((r) => sh.once('exit', () => r()));
  const ready = await new Promise<{ type?: string; loadError?: string }>((r) => sh.once('message', r));
  if (ready.type !== 'ready' || ready.loadError) throw new Error(`standby not ready: ${JSON.stringify(ready)}`);
  const worker = Number(readFileSync(`/proc/${sh.pid}/task/${sh.pid}/children`, 'utf8').trim().split(' ')[0]);
  const boot = procTimes(worker)?.own;
  if (boot === undefined) throw new Error('the standby is gone before its run');
  sh.send({ type: 'run', runId: 'run_boot_cpu', job: 'noop', runConfig: {}, spoolDir: spool });
  await exited;
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const total = (f[13]! + f[14]!) * TICK_MS;
  if (!readFileSync(join(spool, 'events.jsonl'), 'utf8').includes('"RUN_SUCCESS"')) {
    throw new Error('the standby run did not succeed');
  }
  return { boot, run: total - boot };
}
