// CPU time of processes from /proc (Linux), for benchmarks that must say where the CPU went and
// not only how long something took: a process tree split by role, and one child command's CPU.
// Clock ticks are 10 ms (USER_HZ 100), so single samples are coarse; sum or repeat them.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { descendants } from '../../test/support/process.js';

const TICK_MS = 10;

/** utime + stime (own) and cutime + cstime (children it waited for), in ms; undefined if gone. */
export function procTimes(pid: number): { own: number; reaped: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // After the command's ')': state is index 0, utime 11, stime 12, cutime 13, cstime 14.
  const f = text
    .slice(text.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return { own: (f[11]! + f[12]!) * TICK_MS, reaped: (f[13]! + f[14]!) * TICK_MS };
}

/**
 * CPU of `root` and everything below it, by role. `root` itself is `self`; its reaped children
 * (their whole subtrees, as the kernel sums them on wait) are `exited`; each live descendant is
 * counted with its own reaped children under `classify(cmdline)`. No time is counted twice:
 * a reaped process is no longer live.
 */
export function treeCpu(root: number, classify: (cmdline: string) => string): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string, ms: number): void => void (out[k] = (out[k] ?? 0) + ms);
  const t = procTimes(root);
  if (!t) return out;
  add('self', t.own);
  add('exited', t.reaped);
  for (const pid of descendants(root)) {
    const d = procTimes(pid);
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue; // gone meanwhile: its time moved into its parent's reaped sum
    }
    if (d) add(classify(cmd), d.own + d.reaped);
  }
  return out;
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
