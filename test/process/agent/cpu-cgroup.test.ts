// Run workers' cgroup (--run-worker-cpu-weight; src/agent/launchers/cpu-cgroup.ts) against this
// host's real cgroup filesystems:
// - the probe reads /proc/self/cgroup and the real cgroup2 mount; where it finds no delegable cpu
//   controller (this CI host is cgroup v1 hybrid: its /sys/fs/cgroup/unified has none), the agent
//   keeps its isolation unchanged and says why, and the boot cap alone applies (boot-slots.test.ts);
// - entering a group: the shell wrapper puts a real run worker (and a bubblewrap sandbox's
//   processes) into a real cgroup before it execs, and the run still succeeds. Shown on a cgroup
//   v1 cpu hierarchy when one is writable here (cgroup.procs works the same in v1 and v2);
// - the whole v2 set-up (agent leaf, +cpu, cpu.weight) only where the host delegates one and
//   OUTPOST_TEST_CGROUP2=1 allows this test process to be moved;
// - the wrapper's exec race under bubblewrap, on any host (a FIFO stands for cgroup.procs).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { inCpuCgroup, probeCpuCgroup, resolveRunWorkerCpu } from '../../../src/agent/launchers/cpu-cgroup.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { childPids, processGroupMembers, readCmdline } from '../../../src/agent/launchers/proc.js';
import { bubblewrapIsolation, bubblewrapUsable, noIsolation } from '../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import { until } from '../../support/wait.js';

const MODULE = resolve('examples/hello/definitions.ts');
const logger = createLogger({ name: 'test', level: 'warn' });
const dataDir = mkdtempSync(join(tmpdir(), 'outpost-cpu-cgroup-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const probe = probeCpuCgroup();

test(
  'no delegable cgroup v2 cpu controller: the isolation is left as is, with the reason',
  { skip: probe.ok ? `this host delegates ${probe.ok && probe.own}: the fallback is not reachable here` : false },
  () => {
    assert.equal(probe.ok, false);
    const why = !probe.ok ? probe.why : '';
    assert.ok(why.length > 0);
    const cpu = resolveRunWorkerCpu(noIsolation, 10);
    assert.equal(cpu.isolation, noIsolation);
    assert.equal(cpu.cgroup, undefined);
    assert.equal(cpu.summary, `no cgroup: ${why}`);
    // And 0 never looks.
    assert.equal(resolveRunWorkerCpu(noIsolation, 0).summary, 'cgroup off (--run-worker-cpu-weight 0)');
  },
);

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
    const cpu = resolveRunWorkerCpu(noIsolation, 10);
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

// The wrapper/lookup race, without any cgroup: `inCpuCgroup` writes the pid to whatever file it
// is given, so a FIFO holds the wrapper shell at `echo $$ > fifo` until the test reads it. The
// launcher looks up the sandbox's root while the child is still that shell (the test reads the
// FIFO only once the lookup has started). Before, the lookup gave up at once (the shell is not
// bwrap), the shell's pid (bwrap's outer process, once exec'd) was recorded as the worker's, and
// termination's SIGTERM killed that outer process, never reaching the worker: it slept on and
// ended RUN_SUCCESS. Now the lookup waits for the exec and termination reaches the worker.
describe(
  'the cgroup wrapper under bubblewrap: the root is looked up after the exec',
  {
    skip: bwrap.ok ? false : `bubblewrap unusable here: ${bwrap.why}`,
  },
  () => {
    test('a run launched while the wrapper has not exec’d yet is terminated promptly', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'outpost-wrapper-race-'));
      let written = '';
      let sandbox: number[] = [];
      try {
        const fifo = join(dir, 'procs');
        execFileSync('mkfifo', [fifo]);
        const wrapped = inCpuCgroup(bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir] }), fifo);
        let lookupStarted!: () => void;
        const looking = new Promise<void>((r) => (lookupStarted = r));
        const launcher = new ProcessLauncher({
          dataDir,
          isolation: { ...wrapped, root: (pid, timeoutMs) => (lookupStarted(), wrapped.root(pid, timeoutMs)) },
          logger,
        });
        const runId = 'wrapper_race_run';
        const launched = launcher.launch({
          runId,
          location: 'hello',
          job: 'sleepy',
          runConfig: { seconds: 300 },
          module: MODULE,
        });
        await looking;
        // Let the shell go on: it writes its pid here, then execs bwrap.
        written = await readFile(fifo, 'utf8');
        await launched;
        sandbox = [...childPids(Number(written.trim())), Number(written.trim())];
        const events = join(launcher.spoolDir(runId), SPOOL_FILES.events);
        await until(
          'the step started',
          () => existsSync(events) && readFileSync(events, 'utf8').includes('STEP_START'),
        );
        const recorded = launcher.groupMembers(runId);
        assert.ok(await launcher.requestTermination(runId));
        await until('the worker exits after SIGTERM', async () => !(await launcher.isAlive(runId)), 60_000);
        const last = readFileSync(events, 'utf8').trim().split('\n').at(-1)!;
        assert.match(last, /"RUN_CANCELED"/);
        assert.ok(
          !recorded.includes(Number(written.trim())),
          `bwrap's outer process (${written.trim()}) is not the recorded group`,
        );
      } finally {
        // Never leave the sandbox behind when termination missed it: its pid 1 is bwrap's child.
        for (const p of sandbox) if (readCmdline(p)?.[0] === '/usr/bin/bwrap') killQuietly(p);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
