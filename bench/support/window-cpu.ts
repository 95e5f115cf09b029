// CPU over a measured window, per process: the bench process itself (in these benches it hosts
// the control plane, so its figure is the control plane's plus the bench's own store polling)
// and the `outpost agent` child (from /proc, 10 ms ticks). With OUTPOST_BENCH_CP_PROFILE=<file>
// the bench process is also profiled over the window (V8 sampling profiler), into
// <file>.<label>.cpuprofile.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpuMs } from './stack.js';

export interface WindowCpu {
  /** Bench process (control plane + the bench's polling), ms. */
  benchMs: number;
  /** The agent process, ms. */
  agentMs: number;
}

/** Starts counting; the returned function stops and answers the CPU used since. */
export async function startWindowCpu(agentPid: number, label: string): Promise<() => Promise<WindowCpu>> {
  const profileFile = process.env.OUTPOST_BENCH_CP_PROFILE;
  let session: Session | undefined;
  if (profileFile) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const self0 = process.cpuUsage();
  const agent0 = cpuMs(agentPid);
  return async () => {
    const self = process.cpuUsage(self0);
    const agentMs = cpuMs(agentPid) - agent0;
    if (session && profileFile) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(`${profileFile}.${label}.cpuprofile`, JSON.stringify(profile));
      session.disconnect();
    }
    return { benchMs: (self.user + self.system) / 1000, agentMs };
  };
}

/** process.cpuUsage() around `fn`, in ms. */
export async function cpuOf(fn: () => Promise<void>): Promise<number> {
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

/**
 * This process's CPU while a client script in its own process does its requests: the script
 * prints a line when ready and starts on "go" from stdin; the window ends at its exit.
 */
export async function clientCpu(script: string, args: string[]): Promise<number> {
  const c = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((r) => c.stdout.once('data', () => r()));
  const exited = new Promise<void>((r, j) =>
    c.once('exit', (code) => (code === 0 ? r() : j(new Error(`client exited ${code}`)))),
  );
  return cpuOf(async () => {
    c.stdin.write('go');
    await exited;
  });
}
