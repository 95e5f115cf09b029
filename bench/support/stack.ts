// A whole Outpost system for a benchmark: its own Temporal dev server, a control plane (SQLite
// or PostgreSQL) with tokens and a user-API client (the agent engineer's test stack), and an
// agent either in-process or as a real `outpost agent` child process whose RSS/CPU we can read.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { StoreLimits } from '../../src/control-plane/index.js';
import { startDevServer, type DevServer } from '../../src/shared/temporal-dev-server.js';
import { startStack, type Stack } from '../../test/support/stack.js';
import { spawnOutpost } from '../../test/support/process.js';

export { HELLO_MODULE, type Stack } from '../../test/support/stack.js';

export interface BenchSystem {
  temporal: DevServer;
  stack: Stack;
  /** The `outpost agent` child, when started with spawnAgent. */
  agentProcess?: ChildProcess;
  /**
   * Starts `outpost agent` as a child process; resolves once it printed its ready line. `cli`
   * is the command that starts the CLI (default: the bench's own form, from source through tsx;
   * `compiledCli()` for the build users run, whose user-code children are compiled too).
   */
  spawnAgent(extraArgs?: string[], cli?: string[]): Promise<ChildProcess>;
  close(): Promise<void>;
}

export async function startBenchSystem(opts: {
  databaseUrl: string;
  storeLimits?: Partial<StoreLimits>;
  temporal?: DevServer;
}): Promise<BenchSystem> {
  const temporal = opts.temporal ?? (await startDevServer());
  const ownTemporal = !opts.temporal;
  const stack = await startStack({
    databaseUrl: opts.databaseUrl,
    temporalAddress: temporal.address,
    ...(opts.storeLimits ? { storeLimits: opts.storeLimits } : {}),
  });
  let closing = false;
  const system: BenchSystem = {
    temporal,
    stack,
    async spawnAgent(extraArgs = [], cli) {
      const tokenFile = join(stack.dataDir, 'agent.token');
      writeFileSync(tokenFile, `${stack.agentToken}\n`, { mode: 0o600 });
      // The agent's last lines: printed if it dies before close() (a benchmark then fails reading
      // its /proc files, which says nothing of why).
      const tail: string[] = [];
      const output = { push: (line: string) => tail.push(line) > 50 && tail.shift() };
      // At log level warn the ready signal is the banner on stderr (OUTPOST_AGENT_READY is an info log).
      const { child } = await spawnOutpost(
        [
          'agent',
          '--url',
          stack.cp.url,
          '--token-file',
          tokenFile,
          '--temporal-address',
          temporal.address,
          '--task-queue',
          stack.taskQueue,
          '--data-dir',
          join(stack.dataDir, 'agent'),
          ...extraArgs,
        ],
        /OUTPOST_AGENT_READY|^outpost agent \S+ \(/,
        {},
        output,
        cli,
      );
      child.once('exit', (code, signal) => {
        if (closing) return;
        process.stderr.write(
          `outpost agent exited during the benchmark (code ${code}, signal ${signal}); its last lines:\n${tail.join('')}`,
        );
      });
      system.agentProcess = child;
      return child;
    },
    async close() {
      closing = true;
      const child = system.agentProcess;
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      await stack.close();
      if (ownTemporal) await temporal.stop();
    },
  };
  return system;
}

const ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * The CLI as `outpost` runs it once built (`node dist/src/cli/main.js`), after bringing dist/ up
 * to date the way `npm start` does (scripts/ensure-build.mjs).
 */
export function compiledCli(): string[] {
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'ensure-build.mjs')], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('the build failed');
  return [process.execPath, join(ROOT, 'dist', 'src', 'cli', 'main.js')];
}

/** Resident set size of a process, in MB (from /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU time (user + system) a process has used so far, in ms (from /proc/<pid>/stat). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is index 0, utime 11, stime 12 (clock ticks, 100 Hz on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
