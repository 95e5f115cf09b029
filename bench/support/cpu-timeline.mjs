// CPU timeline sampler (plain Node, no tsx: it runs beside a burst and must cost little).
// Every INTERVAL ms it reads /proc/stat (the machine's busy/idle ticks, procs_running) and, for
// each named root pid, its own CPU and its main thread's schedstat (ns on a CPU / waiting for one),
// and the CPU, count and R/D states of every process below the first root (the agent's workers).
// Writes one JSON line per sample to the file named by argv[2] until SIGTERM.
//   node bench/support/cpu-timeline.mjs <out.ndjson> <intervalMs> name=pid ...
import { openSync, readFileSync, readdirSync, writeSync, closeSync } from 'node:fs';
import { clearInterval, setInterval } from 'node:timers';

const [out, intervalArg, ...roots] = process.argv.slice(2);
const INTERVAL = Number(intervalArg ?? 50);
const named = roots.map((a) => {
  const [name, pid] = a.split('=');
  return { name, pid: Number(pid) };
});
const fd = openSync(out, 'w');

const read = (p) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};
/** state, ppid, utime+stime (ticks) of a process. */
const stat = (pid) => {
  const t = read(`/proc/${pid}/stat`);
  if (!t) return undefined;
  const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], ticks: Number(f[11]) + Number(f[12]) };
};
const children = (pid) => {
  const kids = [];
  let tasks;
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return kids;
  }
  for (const tid of tasks) {
    const c = read(`/proc/${pid}/task/${tid}/children`);
    if (c) for (const k of c.trim().split(' ')) if (k) kids.push(Number(k));
  }
  return kids;
};
const sched = (pid) => {
  const s = read(`/proc/${pid}/task/${pid}/schedstat`);
  if (!s) return [NaN, NaN];
  const [run, wait] = s.split(' ').map(Number);
  return [run / 1e6, wait / 1e6];
};

function sample() {
  const ps = read('/proc/stat');
  const cpu = ps.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const running = Number(/procs_running (\d+)/.exec(ps)?.[1]);
  const blocked = Number(/procs_blocked (\d+)/.exec(ps)?.[1]);
  const row = { t: Date.now(), cpu, running, blocked };
  for (const { name, pid } of named) {
    const s = stat(pid);
    row[name] = s ? [s.ticks, ...sched(pid), s.state] : null;
  }
  // Descendants of the first root, with their states.
  const root = named[0]?.pid;
  if (root) {
    let ticks = 0;
    let n = 0;
    let r = 0;
    let d = 0;
    const stack = children(root);
    while (stack.length) {
      const pid = stack.pop();
      const s = stat(pid);
      if (!s) continue;
      n++;
      ticks += s.ticks;
      if (s.state === 'R') r++;
      if (s.state === 'D') d++;
      stack.push(...children(pid));
    }
    row.tree = [n, ticks, r, d];
  }
  writeSync(fd, JSON.stringify(row) + '\n');
}

/** Every process on the host: pid, start time, comm, ppid, CPU ticks (a line of its own). */
function scan() {
  const procs = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const t = read(`/proc/${p}/stat`);
    if (!t) continue;
    const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
    const comm = t.slice(t.indexOf('(') + 1, t.lastIndexOf(')'));
    procs.push([Number(p), Number(f[19]), comm, Number(f[1]), Number(f[11]) + Number(f[12])]);
  }
  writeSync(fd, JSON.stringify({ t: Date.now(), scan: procs }) + '\n');
}

scan();
const timer = setInterval(sample, INTERVAL);
process.on('SIGTERM', () => {
  clearInterval(timer);
  sample();
  scan();
  closeSync(fd);
  process.exit(0);
});
sample();
