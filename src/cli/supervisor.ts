// Child-process supervision for `outpost dev`: spawn, prefix output live, stop in order.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

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

export interface Supervised {
  tag: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

export function supervise(tag: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Supervised {
  // Own process group: a terminal Ctrl-C reaches only `outpost dev`, which then stops the
  // children in order (agent before control plane) instead of all at once.
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const print = prefixed(tag);
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (l) => print(humanizeLogLine(l)));
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    tag,
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
