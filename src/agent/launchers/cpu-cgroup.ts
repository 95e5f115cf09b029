// Run workers in a cgroup v2 of their own with a low cpu.weight, where the host delegates one to
// the agent: then booting workers share the CPU as one group weighed against the agent's, however
// many there are (the cap on concurrent boots, boot-slots.ts, still applies). Available only with
// the unified hierarchy's cpu controller and a writable cgroup (systemd `Delegate=yes`, a
// container with its own cgroup namespace): on a cgroup v1 or hybrid host (the cpu controller
// belongs to v1) or without write access, `detect` says why and nothing is changed.
// Layout made inside the agent's own cgroup C (v2 allows processes only in leaves once a
// controller is enabled for children): C/outpost-agent (the agent moves there) and
// C/outpost-run-workers (cpu.weight = the setting; the agent's leaf keeps the default 100). Each
// worker enters its group before it execs anything: a shell writes its own pid into the group's
// cgroup.procs, then execs the command (so its sandbox and everything it forks are inside).
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCmdline } from './proc.js';
import type { Isolation } from './sandbox.js';

export type CpuCgroupProbe = { ok: true; own: string } | { ok: false; why: string };

export interface ProbeSources {
  /** Default /proc/self/cgroup. */
  selfCgroup?: string;
  /** Default /proc/self/mountinfo. */
  mountinfo?: string;
}

/** Where this process's cgroup v2 is, if its cpu controller can be delegated to children. */
export function probeCpuCgroup(src: ProbeSources = {}): CpuCgroupProbe {
  const read = (f: string): string | undefined => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return undefined;
    }
  };
  const self = read(src.selfCgroup ?? '/proc/self/cgroup');
  const path = self
    ?.split('\n')
    .find((l) => l.startsWith('0::'))
    ?.slice(3);
  if (path === undefined)
    return { ok: false, why: 'this process is in no cgroup v2 (no "0::" line in /proc/self/cgroup)' };
  // mountinfo: "... <mount point> <options> - <fstype> <source> ..."
  const mount = (read(src.mountinfo ?? '/proc/self/mountinfo') ?? '')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
  if (!mount) return { ok: false, why: 'no cgroup2 filesystem is mounted' };
  const own = join(mount, path);
  const controllers = read(join(own, 'cgroup.controllers'))?.trim() ?? '';
  if (!controllers.split(' ').includes('cpu')) {
    return {
      ok: false,
      why: `the cpu controller is not available to ${own} (cgroup.controllers: "${controllers}"; on a cgroup v1 or hybrid host it belongs to v1)`,
    };
  }
  for (const f of [own, join(own, 'cgroup.subtree_control'), join(own, 'cgroup.procs')]) {
    try {
      accessSync(f, constants.W_OK);
    } catch {
      return { ok: false, why: `${f} is not writable: the cgroup is not delegated to this user` };
    }
  }
  return { ok: true, own };
}

export type CpuCgroupSetup = { ok: true; procs: string; weight: number } | { ok: false; why: string };

/**
 * Makes the layout (see the header) and moves this process into its leaf. Idempotent: a restarted
 * agent finds it made. Fails, changing as little as possible, when another process shares the cgroup.
 */
export function setUpCpuCgroup(own: string, weight: number, pid = process.pid): CpuCgroupSetup {
  const agent = join(own, 'outpost-agent');
  const workers = join(own, 'outpost-run-workers');
  try {
    for (const d of [agent, workers]) if (!existsSync(d)) mkdirSync(d);
    writeFileSync(join(agent, 'cgroup.procs'), String(pid));
    const enabled = readFileSync(join(own, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
    if (!enabled.includes('cpu')) writeFileSync(join(own, 'cgroup.subtree_control'), '+cpu');
    writeFileSync(join(workers, 'cpu.weight'), String(weight));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'EBUSY' ? ` (other processes share ${own}: v2 needs it empty to enable cpu below it)` : '';
    return { ok: false, why: `setting up ${own}: ${e.code ?? e.message}${hint}` };
  }
  return { ok: true, procs: join(workers, 'cgroup.procs'), weight };
}

// $$ is the shell, which then becomes the command (exec keeps the pid).
const ENTER_THEN_EXEC = 'echo $$ > "$0" && exec "$@"';

/**
 * `isolation`, with every command entering the cgroup whose cgroup.procs is `procs` first (any
 * file that takes a pid works the same; tests use a FIFO to hold the shell before its exec).
 */
export function inCpuCgroup(isolation: Isolation, procs: string): Isolation {
  return {
    ...isolation,
    summary: isolation.summary,
    command: (cmd, place) => ['/bin/sh', '-c', ENTER_THEN_EXEC, procs, ...isolation.command(cmd, place)],
    // The sandbox finds its root from what the child runs. Until the shell has exec'd, the child
    // is this shell: bubblewrap's lookup gave up at once (not bwrap), so the shell's pid (bwrap's
    // outer process after the exec) was recorded, and termination's SIGTERM killed that outer
    // process instead of reaching the worker. So wait for the exec (or the shell's end) first.
    async root(childPid, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      // Mid-exec, /proc/<pid>/cmdline reads empty for a moment: that is not the exec done yet.
      for (;;) {
        const argv = readCmdline(childPid);
        const wrapperOrExecing = argv !== undefined && (argv.length === 0 || argv[2] === ENTER_THEN_EXEC);
        if (!wrapperOrExecing || Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, 1));
      }
      return isolation.root(childPid, Math.max(0, deadline - Date.now()));
    },
  };
}

export interface RunWorkerCpu {
  /** The isolation to start run workers with (wrapped when the cgroup is in use). */
  isolation: Isolation;
  /** One line for the banner and the log: what keeps workers from starving the agent. */
  summary: string;
  cgroup?: string;
}

/**
 * Resolves `--run-worker-cpu-weight` (0 = off) against this host: the cgroup when it can be set
 * up, else the isolation unchanged, and a summary saying which and why.
 */
export function resolveRunWorkerCpu(isolation: Isolation, weight: number, src?: ProbeSources): RunWorkerCpu {
  if (weight === 0) return { isolation, summary: 'cgroup off (--run-worker-cpu-weight 0)' };
  const probe = probeCpuCgroup(src);
  if (!probe.ok) return { isolation, summary: `no cgroup: ${probe.why}` };
  const setup = setUpCpuCgroup(probe.own, weight);
  if (!setup.ok) return { isolation, summary: `no cgroup: ${setup.why}` };
  return {
    isolation: inCpuCgroup(isolation, setup.procs),
    summary: `cgroup v2 ${probe.own}/outpost-run-workers, cpu.weight ${weight} (the agent 100)`,
    cgroup: join(probe.own, 'outpost-run-workers'),
  };
}
