// The cgroup v1 fallback for the run workers' cpu group (cpu-cgroup.ts holds the v2 path and the
// resolver): on a v1 or hybrid host whose cpu hierarchy the agent may write (root, or a
// delegated v1 subtree), run workers go into a child of the agent's own v1 cpu cgroup with a low
// cpu.shares. v1 allows processes in inner nodes, so the agent stays where it is. Why it matters:
// with kernel.sched_autogroup_enabled each detached worker session is an autogroup weighed
// equally with the agent, so 200 booting workers starve it; in one group they weigh as one.
// The group is named per agent (two agents on one host keep theirs apart), reused by a restarted
// agent, and removed at shutdown when empty (detached runs may outlive the agent; then it stays).
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CpuCgroupProbe, ProbeSources } from './cpu-cgroup.js';

/** v2's default cpu.weight (100) is v1's default cpu.shares (1024). */
export function sharesFromWeight(weight: number): number {
  return Math.max(2, Math.round((weight * 1024) / 100));
}

/** The group's directory name for one agent: `outpost-run-workers-<agent id, sanitized>`. */
export function v1GroupName(agentName: string): string {
  return `outpost-run-workers-${agentName.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64)}`;
}

/** Where this process's cgroup v1 cpu cgroup is, if it is mounted and writable here. */
export function probeCpuCgroupV1(src: ProbeSources = {}): CpuCgroupProbe {
  const read = (f: string): string | undefined => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return undefined;
    }
  };
  // /proc/self/cgroup v1 lines: "<id>:<controllers, comma-separated>:<path>".
  const path = (read(src.selfCgroup ?? '/proc/self/cgroup') ?? '')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f.length >= 3 && f[0] !== '0' && f[1]!.split(',').includes('cpu'))
    ?.slice(2)
    .join(':');
  if (path === undefined) return { ok: false, why: 'this process is in no cgroup v1 cpu hierarchy' };
  // mountinfo: "<id> <parent> <dev> <root> <mount point> <options> ... - cgroup <source> <super options>"
  const mount = (read(src.mountinfo ?? '/proc/self/mountinfo') ?? '')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => {
      const dash = f.indexOf('-');
      return f[dash + 1] === 'cgroup' && (f[dash + 3] ?? '').split(',').includes('cpu');
    });
  if (!mount) return { ok: false, why: 'no cgroup v1 cpu hierarchy is mounted' };
  // The mount may show a subtree (a container's): the path is relative to the hierarchy's root.
  const root = mount[3]!;
  const rel = root !== '/' && path.startsWith(root) ? path.slice(root.length) : path;
  const own = join(mount[4]!, rel).replace(/(.)\/+$/, '$1');
  for (const f of [own, join(own, 'cgroup.procs')]) {
    try {
      accessSync(f, constants.W_OK);
    } catch {
      return { ok: false, why: `${f} (cgroup v1) is not writable: it is not delegated to this user` };
    }
  }
  return { ok: true, own };
}

export type CpuCgroupV1Setup = { ok: true; group: string; procs: string; shares: number } | { ok: false; why: string };

/** Makes (or reuses) the agent's workers group under `own` and sets its cpu.shares. */
export function setUpCpuCgroupV1(own: string, agentName: string, weight: number): CpuCgroupV1Setup {
  const group = join(own, v1GroupName(agentName));
  const shares = sharesFromWeight(weight);
  try {
    if (!existsSync(group)) mkdirSync(group);
    writeFileSync(join(group, 'cpu.shares'), String(shares));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, why: `setting up ${group}: ${e.code ?? e.message}` };
  }
  return { ok: true, group, procs: join(group, 'cgroup.procs'), shares };
}

/**
 * Removes the group once no process is left in it; says what it did (best effort, never throws).
 * Waits up to `waitMs` for retired standbys to finish exiting; runs still going (detached workers
 * outlive the agent) keep it, and a restarted agent reuses it.
 */
export async function removeCpuCgroupV1(group: string, waitMs = 2000): Promise<string> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      rmdirSync(group);
      return 'removed';
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') return 'already gone';
      if (e.code !== 'EBUSY' || Date.now() >= deadline) return `kept (${e.code ?? e.message})`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
