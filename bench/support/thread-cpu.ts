// This process's CPU split by thread, from /proc/self/task/<tid>/stat (utime + stime, in clock
// ticks of 10 ms): the main thread (the control plane's event loop: what a request waits for)
// and every other thread together (V8's GC helpers, the SQLite checkpoint thread, libuv's pool).
// process.cpuUsage() gives only the sum. Linux only: elsewhere both read 0.
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadCpu {
  mainMs: number;
  otherMs: number;
}

const TICK_MS = 10;

function ticksOf(tid: string): number {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0; // a thread that ended meanwhile
  }
}

/** CPU so far of every live thread (an ended thread's CPU is lost: the split is a lower bound). */
export function threadCpu(): ThreadCpu {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return { mainMs: 0, otherMs: 0 };
  }
  const main = String(process.pid);
  let mainMs = 0;
  let otherMs = 0;
  for (const tid of tids) {
    const ms = ticksOf(tid) * TICK_MS;
    if (tid === main) mainMs += ms;
    else otherMs += ms;
  }
  return { mainMs, otherMs };
}

/** The split since `before` (threadCpu()). */
export function threadCpuSince(before: ThreadCpu): ThreadCpu {
  const now = threadCpu();
  return { mainMs: now.mainMs - before.mainMs, otherMs: Math.max(0, now.otherMs - before.otherMs) };
}
