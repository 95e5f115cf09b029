// The run workers' cgroup probes (src/agent/launchers/cpu-cgroup.ts, cpu-cgroup-v1.ts) against
// /proc/self/cgroup and /proc/self/mountinfo as a cgroup v1-only, a hybrid and a unified (v2) host
// show them, with the mount points pointing at temporary directories laid out like cgroupfs.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { probeCpuCgroup } from '../../../src/agent/launchers/cpu-cgroup.js';
import { probeCpuCgroupV1, sharesFromWeight, v1GroupName } from '../../../src/agent/launchers/cpu-cgroup-v1.js';

const root = mkdtempSync(join(tmpdir(), 'outpost-cgprobe-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Writes the two /proc sources and a fake cgroupfs; returns the sources. */
function host(name: string, selfCgroup: string, mounts: string[]): { selfCgroup: string; mountinfo: string } {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'cgroup'), selfCgroup);
  writeFileSync(join(dir, 'mountinfo'), mounts.map((m) => m.replaceAll('$R', dir)).join('\n') + '\n');
  return { selfCgroup: join(dir, 'cgroup'), mountinfo: join(dir, 'mountinfo') };
}
function cgroupDir(path: string, files: Record<string, string>): void {
  mkdirSync(path, { recursive: true });
  for (const [f, v] of Object.entries(files)) writeFileSync(join(path, f), v);
}

test('v1-only host: no cgroup v2; the v1 cpu cgroup of this process is found (cpu,cpuacct co-mounted)', () => {
  const src = host(
    'v1only',
    '4:memory:/user.slice\n2:cpu,cpuacct:/user.slice/agent.service\n1:name=systemd:/user.slice\n',
    [
      '31 23 0:28 / $R/fs rw,relatime - tmpfs tmpfs rw,mode=755',
      '32 31 0:29 / $R/fs/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
      '35 31 0:32 / $R/fs/memory rw,relatime - cgroup cgroup rw,memory',
    ],
  );
  const own = join(root, 'v1only/fs/cpu,cpuacct/user.slice/agent.service');
  cgroupDir(own, { 'cgroup.procs': '', 'cpu.shares': '1024' });
  const v2 = probeCpuCgroup(src);
  assert.deepEqual(v2, { ok: false, why: 'this process is in no cgroup v2 (no "0::" line in /proc/self/cgroup)' });
  assert.deepEqual(probeCpuCgroupV1(src), { ok: true, own });
});

test('hybrid host (this CI host): v2 mounted without cpu; the v1 cpu hierarchy is used', () => {
  const src = host('hybrid', '9:name=systemd:/\n1:cpu:/\n0::/\n', [
    '32 31 0:29 / $R/fs/cpu rw,relatime - cgroup cgroup rw,cpu',
    '33 31 0:30 / $R/fs/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
    '41 31 0:38 / $R/fs/unified rw,relatime - cgroup2 cgroup2 rw',
  ]);
  cgroupDir(join(root, 'hybrid/fs/unified'), { 'cgroup.controllers': '' });
  cgroupDir(join(root, 'hybrid/fs/cpu'), { 'cgroup.procs': '', 'cpu.shares': '1024' });
  const v2 = probeCpuCgroup(src);
  assert.equal(v2.ok, false);
  assert.match(!v2.ok ? v2.why : '', /the cpu controller is not available/);
  assert.deepEqual(probeCpuCgroupV1(src), { ok: true, own: join(root, 'hybrid/fs/cpu') });
});

test('a container whose v1 mount shows a subtree: the path is taken relative to its root', () => {
  const src = host('container', '3:cpu:/docker/abc\n', [
    '50 40 0:29 /docker/abc $R/fs/cpu ro,nosuid - cgroup cgroup rw,cpu',
  ]);
  cgroupDir(join(root, 'container/fs/cpu'), { 'cgroup.procs': '' });
  assert.deepEqual(probeCpuCgroupV1(src), { ok: true, own: join(root, 'container/fs/cpu') });
});

test('unified (v2-only) host: the v2 probe finds its cgroup; no v1 cpu hierarchy', () => {
  const src = host('v2', '0::/system.slice/outpost-agent.service\n', [
    '30 23 0:27 / $R/fs rw,nosuid - cgroup2 cgroup2 rw,nsdelegate',
  ]);
  const own = join(root, 'v2/fs/system.slice/outpost-agent.service');
  cgroupDir(own, {
    'cgroup.controllers': 'cpuset cpu io memory pids',
    'cgroup.subtree_control': '',
    'cgroup.procs': '',
  });
  assert.deepEqual(probeCpuCgroup(src), { ok: true, own });
  assert.deepEqual(probeCpuCgroupV1(src), { ok: false, why: 'this process is in no cgroup v1 cpu hierarchy' });
});

test('v1 cpu line present but the hierarchy is not mounted here', () => {
  const src = host('nomount', '1:cpu:/\n', ['31 23 0:28 / $R/fs rw - tmpfs tmpfs rw']);
  assert.deepEqual(probeCpuCgroupV1(src), { ok: false, why: 'no cgroup v1 cpu hierarchy is mounted' });
});

test('weight to shares, and per-agent group names', () => {
  assert.equal(sharesFromWeight(100), 1024);
  assert.equal(sharesFromWeight(10), 102);
  assert.equal(sharesFromWeight(1), 10);
  assert.equal(sharesFromWeight(10_000), 102_400);
  assert.equal(sharesFromWeight(0.1), 2);
  assert.equal(v1GroupName('agent_01H/x y'), 'outpost-run-workers-agent_01H-x-y');
});
