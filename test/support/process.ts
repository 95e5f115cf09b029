// Process helpers shared by tests, fault suites and benchmarks: spawn the `outpost` CLI and wait
// for its ready line, stop or kill -9 a child and wait for its exit, and read /proc (Linux) to
// find the processes a test started, so none outlives it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { defaultCliCommand } from '../../src/agent/launchers/process-launcher.js';
import { readProcStat } from '../../src/agent/launchers/proc.js';

/** Resolves when `child` exits (at once if it already has), with its code or signal. */
export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

/**
 * Spawns `outpost <args>` and resolves once a stdout/stderr line matches `readyLine`; a child that
 * exits or stays silent for 90 s first is killed. `output`, when given, receives every line printed
 * (before and after the ready line).
 * `cli` is the command that starts the CLI (default: this process's form, source or compiled).
 */
export async function spawnOutpost(
  args: string[],
  readyLine: RegExp,
  env: NodeJS.ProcessEnv = {},
  output?: { push(line: string): unknown },
  cli: string[] = defaultCliCommand(),
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const [node, ...pre] = cli;
  const child = spawn(node!, [...pre, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OUTPOST_LOG_LEVEL: 'warn', ...env },
  });
  const tail: string[] = [];
  const ready = new Promise<RegExpExecArray>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`outpost ${args[0]} not ready in 90 s: ${tail.join('\n')}`)), 90_000);
    const onLine = (line: string): void => {
      output?.push(`${line}\n`);
      tail.push(line);
      if (tail.length > 20) tail.shift();
      const m = readyLine.exec(line);
      if (m) {
        clearTimeout(timer);
        res(m);
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      rej(new Error(`outpost ${args[0]} exited (${code ?? sig}) before ready: ${tail.join('\n')}`));
    });
  });
  let match: RegExpExecArray;
  try {
    match = await ready;
  } catch (err) {
    // Never leave a half-started process behind.
    child.kill('SIGKILL');
    throw err;
  }
  return { child, match };
}

/** Whether a child we spawned has not exited yet. */
export function isAlive(child: ChildProcess | undefined): boolean {
  return !!child && child.exitCode === null && child.signalCode === null;
}

/** SIGKILLs a child (if still running) and resolves once it has exited. */
export async function kill9(child: ChildProcess | undefined): Promise<void> {
  if (!child || !isAlive(child)) return;
  const exited = exitOf(child);
  child.kill('SIGKILL');
  await exited;
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the child has exited. */
export async function stopGracefully(child: ChildProcess | undefined): Promise<void> {
  if (!child || !isAlive(child)) return;
  const exited = exitOf(child);
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** Every process descending from `root`, read from /proc (Linux), so none outlives the test. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = readProcStat(Number(entry)); // undefined: exited while we looked
    if (st) children.set(st.ppid, [...(children.get(st.ppid) ?? []), st.pid]);
  }
  const out: number[] = [];
  const queue = [root];
  for (let i = 0; i < queue.length && i < 10_000; i++) {
    for (const c of children.get(queue[i]!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/**
 * Live processes that belong to a data dir: its path is in their command line, their working
 * directory or one of their open files (run workers and warm standbys hold their spool's logs).
 */
export function processesOfDir(dir: string): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!alive(Number(entry))) continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      let refs = cmd.includes(dir);
      const paths = (): string[] => {
        const list = [readlinkSync(`/proc/${entry}/cwd`)];
        for (const fd of readdirSync(`/proc/${entry}/fd`)) {
          try {
            list.push(readlinkSync(`/proc/${entry}/fd/${fd}`));
          } catch {
            // closed meanwhile
          }
        }
        return list;
      };
      refs ||= paths().some((p) => p.startsWith(dir));
      if (refs) out.push({ pid: Number(entry), cmd: cmd.slice(0, 160) });
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return out;
}

/** Start time of a process (clock ticks since boot), which with its pid names it for good. */
export const startTimeOf = (pid: number): number | undefined => readProcStat(pid)?.startTime;

/** Whether `pid` is a live process; a zombie (exited, not yet reaped) counts as gone. */
export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  const st = readProcStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}
