// The process launcher against real run workers (`outpost api execute-run` on examples/hello):
// one spawn per run, adoption after a restart, recovery of the spawn/record crash window,
// process-group termination, and no token in a worker's environment.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { defaultCliCommand, ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { childPids, isSameLiveProcess, readCmdline, readProcStat } from '../../../src/agent/launchers/proc.js';
import { readProcessRecord } from '../../../src/agent/launchers/run-records.js';
import {
  bubblewrapUsable,
  bubblewrapIsolation,
  noIsolation,
  type Isolation,
} from '../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import { until } from '../../support/wait.js';
import { spooledEvents as events } from '../../support/spool-events.js';

const MODULE = resolve('examples/hello/definitions.ts');
const EDGE = resolve('test/fixtures/user-code/edge-location/definitions.ts');
const logger = createLogger({ name: 'test', level: 'warn' });
const dataDir = mkdtempSync(join(tmpdir(), 'outpost-launcher-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const spec = (runId: string, job: string, runConfig: Record<string, unknown> = {}) => ({
  runId,
  location: 'hello',
  job,
  runConfig,
  module: MODULE,
});

// The same suite once per isolation: plain processes, and each worker in a bubblewrap sandbox.
const bwrap = bubblewrapUsable();
for (const mode of ['none', 'bubblewrap'] as const) {
  const isolation = mode === 'none' ? noIsolation : bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir] });
  const skip = mode === 'bubblewrap' && !bwrap.ok ? `bubblewrap unusable here: ${bwrap.why}` : false;
  describe(`ProcessLauncher (isolation ${mode})`, { skip }, () => {
    test('spawns once, records pid and start time, and adopts on every later launch', async () => {
      const launcher = new ProcessLauncher({ dataDir, isolation, logger });
      const runId = `${mode}_run_launch_once`;
      const first = await launcher.launch(spec(runId, 'hello'));
      assert.equal(first.adopted, false);
      const record = JSON.parse(readFileSync(join(launcher.runDir(runId), 'process.json'), 'utf8')) as {
        pid: number;
        startTime: number;
      };
      assert.ok(record.pid > 0 && record.startTime > 0);
      const second = await launcher.launch(spec(runId, 'hello'));
      assert.equal(second.ref, first.ref);
      // Its own child: the exit is announced (supervision sleeps on it instead of polling).
      const exited = launcher.whenExited(runId);
      assert.ok(exited, 'whenExited of a worker this launcher started');
      // The worker is unref'd (the agent's own work keeps its loop alive): keep this one alive.
      const keepAlive = setInterval(() => undefined, 1_000);
      await exited.finally(() => clearInterval(keepAlive));
      assert.equal(await launcher.isAlive(runId), false);
      assert.deepEqual(launcher.exitStatus(runId), { code: 0, signal: null, known: true });
      assert.equal(events(launcher, runId).at(-1)?.type, 'RUN_SUCCESS');
      assert.match(readFileSync(join(launcher.spoolDir(runId), SPOOL_FILES.stdout), 'utf8'), /hello from outpost/);
      // The worker's logs can hold whatever user code prints: owner-only, as a standby's are.
      for (const f of [SPOOL_FILES.stdout, SPOOL_FILES.stderr]) {
        assert.equal(statSync(join(launcher.spoolDir(runId), f)).mode & 0o777, 0o600, f);
      }

      // A restarted agent (a new launcher on the same data dir) adopts the finished run; no respawn.
      const restarted = new ProcessLauncher({ dataDir, isolation, logger });
      const adopted = await restarted.launch(spec(runId, 'hello'));
      assert.equal(adopted.adopted, true);
      assert.equal(await restarted.isAlive(runId), false);
      assert.deepEqual(restarted.exitStatus(runId), { code: null, signal: null, known: false });
      assert.equal(restarted.whenExited(runId), undefined, 'an adopted worker is polled');
      assert.equal(restarted.spawnCount(runId), 1);
    });

    test('a worker whose whole tree ends before its root is seen is recorded with a known start time', async () => {
      // On a busy host a quick job can boot, run and exit before the launcher's event loop turns to
      // look up the sandbox's pid 1 (CI, bubblewrap): the record then held a start time of -1.
      // Here the lookup waits until the launcher has reaped the worker, which forces that order.
      const late: Isolation = {
        ...isolation,
        async root(childPid, timeoutMs) {
          await until('worker reaped', () => readProcStat(childPid) === undefined);
          return isolation.root(childPid, timeoutMs);
        },
      };
      const launcher = new ProcessLauncher({ dataDir, isolation: late, logger });
      const runId = `${mode}_run_ended_before_root`;
      const handle = await launcher.launch(spec(runId, 'hello'));
      const record = JSON.parse(readFileSync(join(launcher.runDir(runId), 'process.json'), 'utf8')) as {
        pid: number;
        startTime: number;
        pgid: number;
      };
      assert.equal(handle.ref, `pid ${record.pid}`);
      assert.ok(record.startTime > 0, `start time ${record.startTime}`);
      assert.equal(record.pgid, record.pid, 'the detached child leads its own group');
      assert.equal(await launcher.isAlive(runId), false);
      assert.equal(events(launcher, runId).at(-1)?.type, 'RUN_SUCCESS');
    });

    test('two launches of one run at once (a retried launchRun attempt) spawn and record one worker', async () => {
      // Temporal retries a launchRun attempt that outlived its heartbeat timeout while the first
      // still runs, in the same agent: the second once found the first's intent and its worker in
      // /proc before process.json existed, and recorded that one spawn a second time.
      const launcher = new ProcessLauncher({ dataDir, isolation, logger });
      const runId = `${mode}_run_concurrent_launch`;
      const [a, b] = await Promise.all([launcher.launch(spec(runId, 'hello')), launcher.launch(spec(runId, 'hello'))]);
      assert.equal(b.ref, a.ref);
      assert.equal(launcher.spawnCount(runId), 1);
      await until('worker exit', async () => !(await launcher.isAlive(runId)));
      assert.equal(events(launcher, runId).at(-1)?.type, 'RUN_SUCCESS');
      assert.equal(launcher.spawnCount(runId), 1);
    });

    for (const logged of [false, true]) {
      test(`after a crash between spawn and record${logged ? ' (spawn already logged)' : ''}, finds the live worker instead of spawning again`, async () => {
        const launcher = new ProcessLauncher({ dataDir, isolation, logger });
        const runId = `${mode}_run_crash_window${logged ? '_logged' : ''}`;
        const dir = launcher.runDir(runId);
        const spool = launcher.spoolDir(runId);
        mkdirSync(spool, { recursive: true });
        writeFileSync(join(dir, 'config.json'), JSON.stringify({ seconds: 30 }));
        writeFileSync(join(dir, 'intent.json'), '{}');
        // What the crashed agent had spawned (same command line) before it could record it.
        const [node, ...rest] = isolation.command(
          [
            ...defaultCliCommand(),
            'api',
            'execute-run',
            '--run-id',
            runId,
            '--module',
            MODULE,
            '--job',
            'sleepy',
            '--config-file',
            join(dir, 'config.json'),
            '--spool-dir',
            spool,
          ],
          { cwd: process.cwd(), readable: [MODULE], internal: [join(dir, 'config.json')], writable: [spool] },
        );
        const orphan = spawn(node!, rest, { detached: true, stdio: 'ignore' });
        try {
          await until('orphan running', () => readProcStat(orphan.pid!) !== undefined);
          const root = await isolation.root(orphan.pid!);
          if (logged) {
            // Killed between the spawn log's line and process.json: recovery must not log it again.
            writeFileSync(join(dir, 'intent.json'), JSON.stringify({ runId, at: Date.now() - 1_000 }));
            const st = readProcStat(root!)!;
            const line = { pid: root, startTime: st.startTime, pgid: st.pgrp, spawnedAt: Date.now() };
            writeFileSync(join(dir, 'spawns.log'), `${JSON.stringify(line)}\n`);
          }
          const handle = await launcher.launch(spec(runId, 'sleepy'));
          assert.equal(handle.adopted, true);
          assert.equal(handle.ref, `pid ${root}`);
          assert.equal(launcher.spawnCount(runId), 1);
          assert.equal(await launcher.isAlive(runId), true);
        } finally {
          await launcher.signal(runId, 'SIGKILL');
        }
      });
    }

    test('signals the whole process group; nothing of it survives', async () => {
      const launcher = new ProcessLauncher({ dataDir, isolation, logger });
      const runId = `${mode}_run_terminate_group`;
      await launcher.launch(spec(runId, 'sleepy', { seconds: 60 }));
      // STEP_START, not RUN_START: the worker installs its SIGTERM handler just after RUN_START,
      // and a loaded machine can deliver the signal in between (default action: no RUN_CANCELED).
      await until('STEP_START', () => events(launcher, runId).some((e) => e.type === 'STEP_START'));
      assert.ok(launcher.groupMembers(runId).length >= 1);
      assert.equal(await launcher.signal(runId, 'SIGTERM'), true);
      await until('worker exit', async () => !(await launcher.isAlive(runId)));
      assert.deepEqual(launcher.groupMembers(runId), []);
      assert.equal(events(launcher, runId).at(-1)?.type, 'RUN_CANCELED');
      // Nothing left to signal: harmless.
      assert.equal(await launcher.signal(runId, 'SIGKILL'), false);
    });

    test('runs workers at a lower priority than the agent when asked (nice)', async () => {
      const launcher = new ProcessLauncher({ dataDir, isolation, logger, nice: 5 });
      const runId = `${mode}_run_nice`;
      await launcher.launch(spec(runId, 'sleepy', { seconds: 30 }));
      const { pid } = JSON.parse(readFileSync(join(launcher.runDir(runId), 'process.json'), 'utf8')) as { pid: number };
      try {
        assert.equal(getPriority(pid), Math.min(19, getPriority(process.pid) + 5));
      } finally {
        await launcher.signal(runId, 'SIGKILL');
        await until('worker exit', async () => !(await launcher.isAlive(runId)));
      }
    });

    test('never passes a token variable to the run worker', async () => {
      const env = {
        ...process.env,
        OUTPOST_AGENT_TOKEN: 'secret-agent-token',
        OUTPOST_USER_TOKEN: 'secret-user',
        KEEP_ME: 'yes',
      };
      const launcher = new ProcessLauncher({ dataDir, isolation, logger, env });
      const runId = `${mode}_run_env_clean`;
      await launcher.launch(spec(runId, 'sleepy', { seconds: 30 }));
      try {
        const pid = Number(/pid (\d+)/.exec((await launcher.adopt(runId))!.ref)![1]);
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        assert.ok(environ.includes('KEEP_ME=yes'));
        assert.ok(!environ.some((e) => e.includes('secret')), 'a token reached the worker');
      } finally {
        await launcher.signal(runId, 'SIGKILL');
        await until('worker exit', async () => !(await launcher.isAlive(runId)));
      }
    });
  });
}

/** The processes the `orphan` job leaves behind (its own session, outliving the worker). */
const strays = (): string[] =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => readCmdline(Number(p))?.join(' ') === 'sleep 777.25');

test(
  'a sandboxed run that left a process behind (its own session) ends with nothing of it running',
  { skip: bwrap.ok ? false : `bubblewrap unusable here: ${bwrap.why}` },
  async () => {
    // A Dagster op's `subprocess.Popen(..., start_new_session=True)` or a daemon: the worker
    // exits, but the sandbox's pid 1 reaps on while the stray lives, so the run held its
    // sandbox, and the stray ran on, with the run finished (as a container's end would not).
    const isolation = bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir] });
    const launcher = new ProcessLauncher({ dataDir, isolation, logger });
    const runId = 'run_leaves_a_stray';
    await launcher.launch({ ...spec(runId, 'orphan'), location: 'edge', module: EDGE });
    const keepAlive = setInterval(() => undefined, 1_000);
    await launcher.whenExited(runId)!.finally(() => clearInterval(keepAlive));
    assert.equal(launcher.exitStatus(runId)?.code, 0);
    assert.equal(events(launcher, runId).at(-1)?.type, 'RUN_SUCCESS');
    // Before the fix the stray ran its full 777 s: a bounded wait fails it.
    await until('no process of the finished run left', () => strays().length === 0, 30_000);
    assert.equal(await new ProcessLauncher({ dataDir, isolation, logger }).isAlive(runId), false);
  },
);

/**
 * Launches the run from another process that exits right after (an agent killed or restarted):
 * nothing watches its worker's exit. `warm`: through a warm standby, as agents do by default.
 */
async function launchFromAGoneAgent(runId: string, job: string, warm: boolean): Promise<void> {
  const script = join(dataDir, `launch-and-exit-${runId}.mts`);
  const src = (f: string) => JSON.stringify(resolve('src', f));
  const location = { location: 'edge', module: EDGE };
  writeFileSync(
    script,
    [
      `import { ProcessLauncher } from ${src('agent/launchers/process-launcher.ts')};`,
      `import { bubblewrapIsolation } from ${src('agent/launchers/sandbox.ts')};`,
      `import { createLogger } from ${src('shared/logger.ts')};`,
      `const isolation = bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [${JSON.stringify(dataDir)}] });`,
      `const logger = createLogger({ name: 'gone', level: 'warn' });`,
      `const launcher = new ProcessLauncher({ dataDir: ${JSON.stringify(dataDir)}, isolation, logger, warmWorkers: ${warm ? 1 : 0} });`,
      warm ? `launcher.prewarm(${JSON.stringify(location)});` : '',
      `await launcher.launch(${JSON.stringify({ ...spec(runId, job), ...location })});`,
      'process.exit(0);',
    ].join('\n'),
  );
  const agent = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
  assert.equal(await new Promise((done) => agent.once('exit', done)), 0);
}

for (const warm of [false, true]) {
  test(
    `a sandboxed run that left a process behind while no agent watched it is ended by the next agent${warm ? ' (warm)' : ''}`,
    { skip: bwrap.ok ? false : `bubblewrap unusable here: ${bwrap.why}` },
    async () => {
      // The agent that launched it is gone (restarted) before its worker exits: nobody sees the
      // exit, and the sandbox's pid 1, the recorded root, reaps on while the stray lives. The next
      // agent read it as a running worker (isAlive true for the stray's 777 s, supervised so). A
      // warm standby's command line names no run: it is known by the standby command.
      const runId = `run_stray_unwatched${warm ? '_warm' : ''}`;
      await launchFromAGoneAgent(runId, 'orphan', warm);
      const isolation = bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir] });
      const launcher = new ProcessLauncher({ dataDir, isolation, logger });
      assert.equal(readProcessRecord(launcher.runDir(runId))?.warm === true, warm);
      await until('the run succeeded', () => events(launcher, runId).at(-1)?.type === 'RUN_SUCCESS', 60_000);
      await until('the stray started', () => strays().length > 0, 30_000);
      await until('the finished run read as ended', async () => !(await launcher.isAlive(runId)), 30_000);
      await until('no process of the finished run left', () => strays().length === 0, 30_000);
    },
  );
}

test(
  'a sandboxed worker cleaning up after its SIGTERM is neither read as ended nor killed before it exits',
  { skip: bwrap.ok ? false : `bubblewrap unusable here: ${bwrap.why}` },
  async () => {
    // The fault suite's mid-termination at the launcher: `stubborn` ignores the abort, so its
    // worker runs on for its grace (5 s, past the sandbox end's 2 s wait), then writes
    // RUN_CANCELED itself and exits 143. Neither the launcher watching it (bwrap's outer process
    // exits only with the worker) nor a restarted one polling isAlive, as terminateProcess does
    // (the worker still runs below the sandbox's pid 1), may end its sandbox before that.
    const isolation = bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir] });
    const launcher = new ProcessLauncher({ dataDir, isolation, logger });
    const runId = 'run_cleans_up_after_sigterm';
    await launcher.launch({ ...spec(runId, 'stubborn'), location: 'edge', module: EDGE });
    await until('the op runs', () => events(launcher, runId).some((e) => e.type === 'STEP_START'), 30_000);
    const restarted = new ProcessLauncher({ dataDir, isolation, logger });
    assert.equal(await restarted.requestTermination(runId), true);
    assert.equal(await restarted.isAlive(runId), true);
    await until('the worker ended', async () => !(await restarted.isAlive(runId)), 30_000);
    const keepAlive = setInterval(() => undefined, 1_000);
    await launcher.whenExited(runId)!.finally(() => clearInterval(keepAlive));
    assert.deepEqual(launcher.exitStatus(runId), { code: 143, signal: null, known: true });
    const last = events(launcher, runId).at(-1);
    assert.equal(last?.type, 'RUN_CANCELED');
    assert.equal(last?.data?.graceExpired, true, 'the worker did not end the run itself');
  },
);

test(
  'a sandbox whose outer bwrap process is killed keeps its worker running (supervised by its spool)',
  { skip: bwrap.ok ? false : `bubblewrap unusable here: ${bwrap.why}` },
  async () => {
    // Only a worker that exited (bwrap exits with its status) may leave strays behind: an outer
    // process killed by a signal leaves the worker itself running inside, still writing its
    // spool, and superviseRun follows it by its spool's writers. It must not be SIGKILLed.
    const isolation = bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir] });
    const launcher = new ProcessLauncher({ dataDir, isolation, logger });
    const runId = 'run_outer_bwrap_killed';
    await launcher.launch({ ...spec(runId, 'stubborn'), location: 'edge', module: EDGE });
    const rec = JSON.parse(readFileSync(join(dataDir, 'runs', runId, 'process.json'), 'utf8')) as {
      pid: number;
      startTime: number;
    };
    await until('the op runs', () => events(launcher, runId).some((e) => e.type === 'STEP_START'), 30_000);
    const outer = readProcStat(rec.pid)!.ppid;
    assert.equal(readCmdline(outer)?.[0], '/usr/bin/bwrap');
    process.kill(outer, 'SIGKILL');
    const keepAlive = setInterval(() => undefined, 1_000);
    await launcher.whenExited(runId)!.finally(() => clearInterval(keepAlive));
    try {
      assert.equal(launcher.exitStatus(runId)?.signal, 'SIGKILL');
      assert.ok(isSameLiveProcess(rec.pid, rec.startTime), 'the sandbox (and its worker) was killed');
    } finally {
      process.kill(rec.pid, 'SIGKILL');
    }
  },
);

test("a worker's exit is announced once its recorded root is gone too, not while it lingers", async () => {
  // bubblewrap's outer process exits as soon as its pid 1 reports the command's status, a moment
  // before that pid 1 (the recorded root) is gone: a launcher restarted right after the exit saw
  // the finished run alive (process-launcher's bubblewrap case failed so under load). Here the
  // recorded root is a process of the worker's that outlives it by ~0.6 s, which forces that order.
  const lingering: Isolation = {
    ...noIsolation,
    command: (cmd) => ['/bin/sh', '-c', 'sleep 0.6 & exec "$@"', 'sh', ...cmd],
    async root(childPid) {
      for (;;) {
        const sleeper = childPids(childPid).find((p) => readCmdline(p)?.[0] === 'sleep');
        if (sleeper !== undefined) return sleeper;
        await new Promise((r) => setTimeout(r, 1));
      }
    },
  };
  const launcher = new ProcessLauncher({ dataDir, isolation: lingering, logger });
  const runId = 'run_root_outlives_worker';
  await launcher.launch(spec(runId, 'hello'));
  const keepAlive = setInterval(() => undefined, 1_000);
  await launcher.whenExited(runId)!.finally(() => clearInterval(keepAlive));
  const restarted = new ProcessLauncher({ dataDir, isolation: lingering, logger });
  assert.equal(await restarted.isAlive(runId), false, 'the recorded root still ran when the exit was announced');
  assert.equal(launcher.exitStatus(runId)?.code, 0);
});
