// Run workers' cgroup (--run-worker-cpu-weight; src/agent/launchers/cpu-cgroup.ts) against this
// host's real cgroup filesystems:
// - the probe reads /proc/self/cgroup and the real cgroup2 mount; where it finds no delegable cpu
//   controller (this CI host is cgroup v1 hybrid: its /sys/fs/cgroup/unified has none), the agent
//   keeps its isolation unchanged and says why, and the boot cap alone applies (boot-slots.test.ts);
// - entering a group: the shell wrapper puts a real run worker (and a bubblewrap sandbox's
//   processes) into a real cgroup before it execs, and the run still succeeds. Shown on a cgroup
//   v1 cpu hierarchy when one is writable here (cgroup.procs works the same in v1 and v2);
// - the v1 fallback end to end: on a host without a delegable v2 but with a writable v1 cpu
//   hierarchy, a per-agent group with cpu.shares from the weight holds a real run worker and a
//   real standby, and is removed when released after the launcher stops;
// - the whole v2 set-up (agent leaf, +cpu, cpu.weight) only where the host delegates one and
//   OUTPOST_TEST_CGROUP2=1 allows this test process to be moved.
import assert from 'node:assert/strict';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { inCpuCgroup, probeCpuCgroup, resolveRunWorkerCpu } from '../../../src/agent/launchers/cpu-cgroup.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { processGroupMembers } from '../../../src/agent/launchers/proc.js';
import { bubblewrapIsolation, bubblewrapUsable, noIsolation } from '../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import { until } from '../../support/wait.js';

const MODULE = resolve('examples/hello/definitions.ts');
const logger = createLogger({ name: 'test', level: 'warn' });
const dataDir = mkdtempSync(join(tmpdir(), 'outpost-cpu-cgroup-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const probe = probeCpuCgroup();

test('no delegable cgroup v2 and no writable v1 cpu hierarchy: the isolation is left as is, with the reasons', () => {
  // Sources as a host with neither shows them (nothing mounted).
  const none = join(dataDir, 'no-cgroups');
  writeFileSync(none, '');
  const cpu = resolveRunWorkerCpu(noIsolation, 10, 'a1', { selfCgroup: none, mountinfo: none });
  assert.equal(cpu.isolation, noIsolation);
  assert.equal(cpu.cgroup, undefined);
  assert.equal(
    cpu.summary,
    'no cgroup: this process is in no cgroup v2 (no "0::" line in /proc/self/cgroup); this process is in no cgroup v1 cpu hierarchy',
  );
  // And 0 never looks.
  assert.equal(resolveRunWorkerCpu(noIsolation, 0, 'a1').summary, 'cgroup off (--run-worker-cpu-weight 0)');
});

/** The cpu controller's hierarchy in cgroup v1, if this host has one we may write. */
function writableV1Cpu(): string | undefined {
  const dir = '/sys/fs/cgroup/cpu';
  try {
    accessSync(join(dir, 'cgroup.procs'), constants.W_OK);
    mkdirSync(join(dir, `outpost-test-probe-${process.pid}`));
    rmdirSync(join(dir, `outpost-test-probe-${process.pid}`));
    return dir;
  } catch {
    return undefined;
  }
}

const v1 = writableV1Cpu();
const bwrap = bubblewrapUsable();
for (const mode of ['none', 'bubblewrap'] as const) {
  const base = mode === 'none' ? noIsolation : bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir] });
  const skip = !v1
    ? 'no writable cgroup (v1 cpu hierarchy) on this host to enter'
    : mode === 'bubblewrap' && !bwrap.ok
      ? `bubblewrap unusable here: ${bwrap.why}`
      : false;
  describe(`entering the workers' cgroup (isolation ${mode})`, { skip }, () => {
    test('the run worker and every process of its group are in the cgroup; the run succeeds', async () => {
      const group = join(v1!, `outpost-test-${process.pid}-${mode}`);
      mkdirSync(group);
      try {
        const launcher = new ProcessLauncher({
          dataDir,
          isolation: inCpuCgroup(base, join(group, 'cgroup.procs')),
          logger,
        });
        const runId = `${mode}_cgroup_run`;
        await launcher.launch({ runId, location: 'hello', job: 'sleepy', runConfig: { seconds: 1 }, module: MODULE });
        // Spawn returns before the shell has entered the group and exec'd: RUN_START is after both.
        await until('RUN_START written', () => existsSync(join(launcher.spoolDir(runId), SPOOL_FILES.events)));
        const members = launcher.groupMembers(runId);
        assert.ok(members.length > 0);
        const name = group.slice(v1!.length);
        for (const pid of members) {
          const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
            .split('\n')
            .find((l) => /:cpu(,|:)/.test(l));
          assert.equal(line?.split(':')[2], name, `pid ${pid}: ${line}`);
        }
        await until('worker exit', async () => !(await launcher.isAlive(runId)), 60_000);
        const events = readFileSync(join(launcher.spoolDir(runId), SPOOL_FILES.events), 'utf8');
        assert.match(events.trim().split('\n').at(-1)!, /"RUN_SUCCESS"/);
        await until('the group empties', () => processGroupMembers(members[0]!).length === 0);
      } finally {
        await until('cgroup removable', () => {
          try {
            if (existsSync(group)) rmdirSync(group);
            return true;
          } catch {
            return false;
          }
        });
      }
    });
  });
}

test(
  'cgroup v2: the agent leaf, +cpu and cpu.weight are set up, workers land in their group',
  {
    skip: !probe.ok
      ? `no delegable cgroup v2 here: ${probe.why}`
      : process.env.OUTPOST_TEST_CGROUP2 !== '1'
        ? 'set OUTPOST_TEST_CGROUP2=1 to let this test move its own process into a sub-cgroup'
        : false,
  },
  async () => {
    const cpu = resolveRunWorkerCpu(noIsolation, 10, 'v2test');
    assert.ok(cpu.cgroup, cpu.summary);
    assert.equal(readFileSync(join(cpu.cgroup, 'cpu.weight'), 'utf8').trim(), '10');
    assert.match(readFileSync('/proc/self/cgroup', 'utf8'), /outpost-agent/);
    const launcher = new ProcessLauncher({ dataDir, isolation: cpu.isolation, logger });
    await launcher.launch({
      runId: 'v2_run',
      location: 'hello',
      job: 'sleepy',
      runConfig: { seconds: 1 },
      module: MODULE,
    });
    for (const pid of launcher.groupMembers('v2_run'))
      assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), /outpost-run-workers/);
    await until('worker exit', async () => !(await launcher.isAlive('v2_run')), 60_000);
  },
);

/** The v1 cpu cgroup of a pid, as /proc/<pid>/cgroup names it ("" when none). */
function v1CpuPath(pid: number): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => /^[1-9]\d*:([^:]*,)?cpu(,[^:]*)?:/.test(l));
  return line?.split(':')[2] ?? '';
}

test(
  'cgroup v1 fallback: a per-agent group with cpu.shares holds the run worker and the standby; removed at release',
  {
    skip: probe.ok
      ? `this host delegates a cgroup v2 (${probe.ok && probe.own}): the v1 fallback is not used here`
      : !v1
        ? 'no writable cgroup v1 cpu hierarchy on this host'
        : false,
  },
  async () => {
    const agentName = `test-${process.pid}-${Date.now()}`;
    const cpu = resolveRunWorkerCpu(noIsolation, 10, agentName);
    const own = v1CpuPath(process.pid);
    const expected = join(v1!, own, `outpost-run-workers-${agentName}`);
    try {
      assert.equal(cpu.cgroup, expected, cpu.summary);
      assert.match(cpu.summary, /^cgroup v1 .*, cpu\.shares 102 \(the agent 1024; no cgroup v2: /);
      assert.equal(readFileSync(join(expected, 'cpu.shares'), 'utf8').trim(), '102');
      // The agent stays where it was.
      assert.equal(v1CpuPath(process.pid), own);
      const launcher = new ProcessLauncher({ dataDir, isolation: cpu.isolation, logger, warmWorkers: 1 });
      const runId = 'v1_fallback_run';
      await launcher.launch({ runId, location: 'hello', job: 'sleepy', runConfig: { seconds: 1 }, module: MODULE });
      await until('RUN_START written', () => existsSync(join(launcher.spoolDir(runId), SPOOL_FILES.events)));
      const rel = expected.slice(v1!.length);
      const members = launcher.groupMembers(runId);
      assert.ok(members.length > 0);
      for (const pid of members) assert.equal(v1CpuPath(pid), rel, `run worker pid ${pid}`);
      // The replacement standby (spawned after the launch) is in the group too.
      await until('a standby in the group', () => {
        const procs = readFileSync(join(expected, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean);
        return procs.some((p) => !members.includes(Number(p)));
      });
      await until('worker exit', async () => !(await launcher.isAlive(runId)), 60_000);
      const events = readFileSync(join(launcher.spoolDir(runId), SPOOL_FILES.events), 'utf8');
      assert.match(events.trim().split('\n').at(-1)!, /"RUN_SUCCESS"/);
      launcher.stop();
      assert.equal(await cpu.release!(), 'removed');
      assert.equal(existsSync(expected), false);
    } finally {
      // Strict cleanup even when an assertion failed: whatever is left in it, then the group.
      if (existsSync(expected)) {
        for (const p of readFileSync(join(expected, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(p), 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await until('test cgroup removable', () => {
          try {
            if (existsSync(expected)) rmdirSync(expected);
            return true;
          } catch {
            return false;
          }
        });
      }
    }
  },
);
