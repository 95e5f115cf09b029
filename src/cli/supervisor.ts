// Child-process supervision for `outpost dev`: spawn with live prefixed output, restart a
// component that crashes (with backoff, saying why), give up after repeated crashes, and stop
// in order. When to restart is decided by restart-policy.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DEFAULT_RESTART_POLICY, formatDelay, planRestart, type RestartPolicy } from './restart-policy.js';

const COLORS: Record<string, string> = { temporal: '35', 'control-plane': '36', agent: '33', outpost: '32' };
const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export function prefixed(tag: string, useColor = process.stdout.isTTY): (line: string) => void {
  const label = useColor ? `\x1b[${COLORS[tag] ?? '37'}m[${tag}]\x1b[0m` : `[${tag}]`;
  return (line) => console.log(`${label} ${line}`);
}

/** pino JSON lines become `level msg key=value ...`; anything else passes through. */
export function humanizeLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const rec = JSON.parse(line) as Record<string, unknown>;
    const { level, msg, time: _t, pid: _p, hostname: _h, name: _n, v: _v, ...rest } = rec;
    const lvl = typeof level === 'number' ? (LEVELS[level] ?? String(level)) : typeof level === 'string' ? level : '';
    const extra = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${lvl.padEnd(5)} ${typeof msg === 'string' ? msg : JSON.stringify(msg ?? '')}${extra ? ' ' + extra : ''}`;
  } catch {
    return line;
  }
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export const describeExit = (e: ExitInfo): string => (e.signal ? `signal ${e.signal}` : `code ${e.code}`);

/** Resolves when `child` has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<ExitInfo> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** One running instance of a component. */
export interface Running {
  pid: number | undefined;
  exited: Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnedChild extends Running {
  child: ChildProcess;
}

export function spawnPrefixed(tag: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): SpawnedChild {
  // Own process group: a terminal Ctrl-C reaches only `outpost dev`, which then stops the
  // children in order (agent before control plane) instead of all at once.
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  const print = prefixed(tag);
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (l) => print(humanizeLogLine(l)));
  }
  const exited = exitOf(child);
  void exited.then(() => process.off('exit', killOnExit));
  return {
    pid: child.pid,
    child,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ComponentOptions {
  tag: string;
  /** Starts one instance and resolves once it is usable; throws when it cannot start. */
  start: () => Promise<Running>;
  /** Where the supervisor's own lines go. */
  log: (line: string) => void;
  /** Called once when the component keeps crashing; the caller then stops everything. */
  onGiveUp: (reason: string) => void;
  policy?: RestartPolicy;
  clock?: () => number;
}

/**
 * A component of the stack that is restarted when it crashes: `start()` once, then every
 * unexpected exit is reported and followed by a restart after a growing delay, until
 * `policy.maxAttempts` starts within `policy.windowMs` have failed.
 */
export class Component {
  private current: Running | undefined;
  private readonly crashes: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private restarting: Promise<void> | undefined;
  private stopped = false;
  private gaveUp = false;

  constructor(private readonly opts: ComponentOptions) {}

  get tag(): string {
    return this.opts.tag;
  }

  /** The live instance's pid, if one is running. */
  get pid(): number | undefined {
    return this.current?.pid;
  }

  /**
   * The first start: a failure here is the caller's (nothing is retried). A stop() meanwhile
   * waits for it, stops what it started, and makes it reject.
   */
  async start(): Promise<void> {
    const run = (async () => {
      const r = await this.opts.start();
      if (this.stopped) {
        await r.stop();
        throw new Error(`${this.tag} was stopped while starting`);
      }
      this.watch(r);
    })();
    this.restarting = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      await run;
    } finally {
      this.restarting = undefined;
    }
  }

  /** Stops the component for good: a pending restart is cancelled, the instance stopped. */
  async stop(graceMs?: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.restarting;
    await this.current?.stop(graceMs);
  }

  private now(): number {
    return (this.opts.clock ?? Date.now)();
  }

  private watch(r: Running): void {
    this.current = r;
    void r.exited.then((e) => {
      if (this.current !== r) return;
      this.current = undefined;
      if (!this.stopped) this.crashed(`exited (${describeExit(e)})`);
    });
  }

  private crashed(why: string): void {
    const policy = this.opts.policy ?? DEFAULT_RESTART_POLICY;
    const now = this.now();
    this.crashes.push(now);
    // Older crashes no longer count; keep the list short.
    while (this.crashes.length && now - this.crashes[0]! >= policy.windowMs) this.crashes.shift();
    const plan = planRestart(this.crashes, now, policy);
    if (plan.action === 'give-up') {
      if (this.gaveUp) return;
      this.gaveUp = true;
      const reason = `${this.tag} ${why}; it failed ${plan.crashes} times within ${formatDelay(plan.windowMs)}, giving up`;
      this.opts.log(reason);
      this.opts.onGiveUp(reason);
      return;
    }
    this.opts.log(
      `${this.tag} ${why}; restarting in ${formatDelay(plan.delayMs)} (attempt ${plan.attempt}/${plan.maxAttempts})`,
    );
    this.timer = setTimeout(() => {
      this.restarting = this.restart().finally(() => (this.restarting = undefined));
    }, plan.delayMs);
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    let r: Running;
    try {
      r = await this.opts.start();
    } catch (err) {
      if (!this.stopped) this.crashed(`failed to start (${err instanceof Error ? err.message : String(err)})`);
      return;
    }
    if (this.stopped) {
      await r.stop();
      return;
    }
    this.opts.log(`${this.tag} restarted${r.pid ? ` (pid ${r.pid})` : ''}`);
    this.watch(r);
  }
}
