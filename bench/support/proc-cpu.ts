// CPU time of processes from /proc (Linux), for benchmarks that must say where the CPU went and
// not only how long something took: a process tree split by role, and one child command's CPU.
// Clock ticks are 10 ms (USER_HZ 100), so single samples are coarse; sum or repeat them.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { descendants } from '../../test/support/process.js';

const TICK_MS = 10;

/** utime + stime (own) and cutime + cstime (children it waited for), in ms; undefined if gone. */
export function procTimes(pid: number): { own: number; reaped: number; startTime: number; ppid: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // After the command's ')': state is index 0, ppid 1, utime 11, stime 12, cutime 13, cstime 14, starttime 19.
  const f = text
    .slice(text.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return { own: (f[11]! + f[12]!) * TICK_MS, reaped: (f[13]! + f[14]!) * TICK_MS, startTime: f[19]!, ppid: f[1]! };
}

/**
 * CPU of `root` and every process below it, by role, kept across their exits: call `sample()`
 * often (each process's latest reading is kept per pid and start time). The kernel's own sums of
 * reaped children are not used: a sandboxed worker's time is lost there (bubblewrap's outer
 * process exits without waiting for the namespace's pid 1), so a process is counted up to the
 * last sample that saw it alive — for processes living seconds, all but their last moments.
 */
export class TreeCpuLedger {
  private readonly seen = new Map<string, { pid: number; ppid: number; role: string; cmd: string; ms: number }>();

  constructor(
    private readonly root: number,
    private readonly classify: (cmdline: string) => string,
  ) {}

  sample(): void {
    for (const pid of [this.root, ...descendants(this.root)]) {
      // One read of its stat: this runs inside the process measured as the control plane.
      const t = procTimes(pid);
      if (!t) continue;
      const key = `${pid}:${t.startTime}`;
      let entry = this.seen.get(key);
      if (!entry) {
        let cmd = '';
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        } catch {
          continue; // gone meanwhile
        }
        entry = { pid, ppid: t.ppid, role: pid === this.root ? 'self' : this.classify(cmd), cmd, ms: 0 };
        this.seen.set(key, entry);
      }
      entry.ms = Math.max(entry.ms, t.own);
    }
  }

  /** Every process seen so far (key: pid and start time), with its command line and CPU (ms). */
  processes(): Map<string, { pid: number; ppid: number; role: string; cmd: string; ms: number }> {
    return new Map([...this.seen].map(([k, v]) => [k, { ...v }]));
  }

  /** ms per role so far (the root is `self`). */
  totals(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { role, ms } of this.seen.values()) out[role] = (out[role] ?? 0) + ms;
    return out;
  }
}

/**
 * Runs `argv` to its end and resolves with the CPU it used (user + system, its children
 * included): a shell waits for it and reads its own cutime/cstime afterwards.
 */
export function commandCpuMs(
  argv: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ cpuMs: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const sh = spawn('sh', ['-c', '"$@" >/dev/null 2>&1; s=$?; cat /proc/$$/stat; exit $s', 'sh', ...argv], {
      stdio: ['ignore', 'pipe', 'inherit'],
      ...opts,
    });
    let text = '';
    sh.stdout.on('data', (b: Buffer) => (text += b.toString()));
    sh.once('error', reject);
    sh.once('exit', (code) => {
      const f = text
        .slice(text.lastIndexOf(')') + 2)
        .split(' ')
        .map(Number);
      const cpuMs = (f[13]! + f[14]!) * TICK_MS;
      if (!Number.isFinite(cpuMs)) reject(new Error(`no /proc stat from the shell: ${text}`));
      else resolve({ cpuMs, code });
    });
  });
}

export const CLOCK_HZ = 100;

/** A thread's time on a CPU and time runnable but waiting for one, in ms (schedstat, ns). */
export function schedstat(pid: number): { run: number; wait: number } {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { run: (run ?? NaN) / 1e6, wait: (wait ?? NaN) / 1e6 };
  } catch {
    return { run: NaN, wait: NaN };
  }
}

/** Busy and total CPU time of the whole machine so far, in clock ticks (/proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}
