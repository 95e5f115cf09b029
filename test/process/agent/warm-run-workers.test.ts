// Warm standby run workers against real processes (`outpost api run-worker-standby` on
// examples/hello): a launch hands the run to a booted standby (one spawn, same events and
// logs as a cold worker), the pool refills, a newer location version retires older standbys,
// a location that cannot import falls back to cold runs, stop() leaves no standby behind, and
// every outcome of an agent crash in the middle of a handoff (standby never got the run, took
// it, or was still undecided at the recovery deadline) is recovered with exactly one run.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { defaultCliCommand, ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { StandbyPool, standbyKey, type Standby } from '../../../src/agent/launchers/standby-pool.js';
import { forgetStandbyProcess, standbyRoot } from '../../../src/agent/launchers/run-records.js';
import {
  bubblewrapIsolation,
  bubblewrapUsable,
  noIsolation,
  standbySpoolInside,
  type Isolation,
} from '../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES, type RunEvent } from '../../../src/shared/run-events.js';
import { handoffClaimant, STANDBY_CLAIM_FILE, type StandbyRunMessage } from '../../../src/shared/standby-protocol.js';
import { alive } from '../../support/process.js';
import { until } from '../../support/wait.js';
import { spooledEvents as events } from '../../support/spool-events.js';

const MODULE = resolve('examples/hello/definitions.ts');
const BROKEN = resolve('test/fixtures/user-code/broken-location/definitions.ts');
const logger = createLogger({ name: 'test', level: 'warn' });
const root = mkdtempSync(join(tmpdir(), 'outpost-warm-'));
after(() => rmSync(root, { recursive: true, force: true }));

const spec = (runId: string, job: string, module = MODULE, runConfig: Record<string, unknown> = {}) => ({
  runId,
  location: module === MODULE ? 'hello' : 'broken',
  job,
  runConfig,
  module,
});

function newLauncher(isolation: Isolation, name: string, version?: () => number): ProcessLauncher {
  return new ProcessLauncher({
    dataDir: join(root, `${isolation.kind}-${name}`),
    isolation,
    logger,
    warmWorkers: 1,
    ...(version ? { locationVersion: () => version() } : {}),
  });
}

async function finished(launcher: ProcessLauncher, runId: string): Promise<RunEvent[]> {
  await until(`${runId} to exit`, async () => !(await launcher.isAlive(runId)));
  return events(launcher, runId);
}

// The same suite once per isolation: plain processes, and standbys sandboxed from the start.
const bwrap = bubblewrapUsable();
for (const mode of ['none', 'bubblewrap'] as const) {
  const isolation = mode === 'none' ? noIsolation : bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [root] });
  const skip = mode === 'bubblewrap' && !bwrap.ok ? `bubblewrap unusable here: ${bwrap.why}` : false;
  describe(`warm standby run workers (isolation ${mode})`, { skip }, () => {
    test('a launch goes to a booted standby: one spawn, RUN_START..RUN_SUCCESS, output in the run', async () => {
      const launcher = newLauncher(isolation, 'handoff');
      try {
        launcher.prewarm({ location: 'hello', module: MODULE });
        await until('a ready standby', () => launcher.standbys.counts().ready === 1);
        const [standbyPid] = launcher.standbys.pids();
        const handle = await launcher.launch(spec('run_warm_1', 'hello'));
        assert.match(handle.ref, /\(warm\)/);
        assert.equal(handle.ref, `pid ${standbyPid} (warm)`);
        const evs = await finished(launcher, 'run_warm_1');
        assert.deepEqual(
          evs.map((e) => e.seq),
          evs.map((_, i) => i + 1),
        );
        assert.equal(evs[0]?.type, 'RUN_START');
        assert.equal(evs[0]?.data?.warm, true);
        // Inside a sandbox the worker sees its own PID namespace.
        if (mode === 'none') assert.equal(evs[0]?.data?.pid, standbyPid);
        assert.equal(evs.at(-1)?.type, 'RUN_SUCCESS');
        assert.deepEqual(launcher.exitStatus('run_warm_1'), { code: 0, signal: null, known: true });
        assert.equal(launcher.spawnCount('run_warm_1'), 1);
        // The config went in the hand-off message: no config.json is written for a warm run.
        assert.equal(existsSync(join(dirname(launcher.spoolDir('run_warm_1')), 'config.json')), false);
        assert.match(
          readFileSync(join(launcher.spoolDir('run_warm_1'), SPOOL_FILES.stdout), 'utf8'),
          /hello from outpost/,
        );

        // The pool refilled with a new process, and the next launch uses it too.
        await until('the pool to refill', () => launcher.standbys.counts().ready === 1);
        assert.notEqual(launcher.standbys.pids()[0], standbyPid);
        const second = await launcher.launch(spec('run_warm_2', 'sleepy', MODULE, { seconds: 0 }));
        assert.match(second.ref, /\(warm\)/);
        assert.equal((await finished(launcher, 'run_warm_2')).at(-1)?.type, 'RUN_SUCCESS');
      } finally {
        launcher.stop();
      }
    });

    test('a launch that finds its standby still booting waits for it instead of spawning', async () => {
      const launcher = newLauncher(isolation, 'booting');
      try {
        launcher.prewarm({ location: 'hello', module: MODULE });
        assert.equal(launcher.standbys.counts().booting, 1);
        const handle = await launcher.launch(spec('run_booting', 'hello'));
        assert.match(handle.ref, /\(warm\)/);
        assert.equal((await finished(launcher, 'run_booting')).at(-1)?.type, 'RUN_SUCCESS');
        assert.equal(launcher.spawnCount('run_booting'), 1);
        // The launch had to wait, so the key keeps two warm for a while: the run's standby plus
        // two refills, and no cold spawn.
        await until('the refills', () => launcher.standbys.spawned === 3);
        assert.equal(launcher.standbys.counts().booting + launcher.standbys.counts().ready, 2);
      } finally {
        launcher.stop();
      }
    });

    test('the replacement of a taken standby starts once the launch settles, not during its hand-off', async () => {
      const launcher = newLauncher(isolation, 'refill-later');
      try {
        launcher.prewarm({ location: 'hello', module: MODULE });
        await until('a ready standby', () => launcher.standbys.counts().ready === 1);
        const handle = await launcher.launch(spec('run_refill_1', 'hello'));
        assert.match(handle.ref, /\(warm\)/);
        // Nothing forked while the run was being handed over.
        assert.equal(launcher.standbys.spawned, 1);
        // Its first events are stored (supervision says so): the refill starts at once.
        launcher.launchSettled('run_refill_1');
        await until('the refill to spawn', () => launcher.standbys.spawned === 2);
        await until('the refill to be ready', () => launcher.standbys.counts().ready === 1);
        // The next launch finds it ready (a hit: the pool's target stayed at 1).
        const next = await launcher.launch(spec('run_refill_2', 'hello'));
        assert.match(next.ref, /\(warm\)/);
        assert.equal(
          launcher.standbys.target(standbyKey({ location: 'hello', module: MODULE, cwd: process.cwd(), env: {} })),
          1,
        );
        for (const id of ['run_refill_1', 'run_refill_2'])
          assert.equal((await finished(launcher, id)).at(-1)?.type, 'RUN_SUCCESS');
      } finally {
        launcher.stop();
      }
    });

    test('in a burst too, a taken ready standby is replaced (and its directory removed) only once its launch settles', async () => {
      const launcher = newLauncher(isolation, 'burst-refill-later');
      const launcherDir = join(root, `${isolation.kind}-burst-refill-later`);
      const ticks = async (): Promise<void> => {
        for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      };
      try {
        // A launch that finds its standby booting: a miss, so the key is in a burst (target 2).
        launcher.prewarm({ location: 'hello', module: MODULE });
        await launcher.launch(spec('run_burst_1', 'hello'));
        launcher.launchSettled('run_burst_1');
        await until('two refills ready', () => launcher.standbys.counts().ready === 2);
        const sbSpec = { location: 'hello', module: MODULE, cwd: process.cwd(), env: {} };
        assert.ok(launcher.standbys.inBurst(sbSpec));
        const before = launcher.standbys.spawned;
        // A hit during the burst: the hand-off and the launch report's trip fork nothing.
        const handle = await launcher.launch(spec('run_burst_2', 'hello'));
        assert.match(handle.ref, /\(warm\)/);
        await ticks();
        assert.equal(launcher.standbys.spawned, before, 'no standby spawned before the launch settled');
        // Nor is the taken standby's emptied directory removed on the way (cleanup, not hand-off).
        assert.equal(readdirSync(standbyRoot(launcherDir)).length, 2);
        // Its report is answered: the replacement starts (off the activity's own return path),
        // and the taken standby's directory goes.
        launcher.launchSettled('run_burst_2');
        await ticks();
        assert.equal(launcher.standbys.spawned, before + 1);
        const dirs = readdirSync(standbyRoot(launcherDir));
        assert.equal(dirs.length, 2, 'the ready standby and its new replacement');
        for (const id of ['run_burst_1', 'run_burst_2'])
          assert.equal((await finished(launcher, id)).at(-1)?.type, 'RUN_SUCCESS');
      } finally {
        launcher.stop();
      }
    });

    test('launches waiting on booting standbys take whichever turns ready first; one waiter per booting standby', async () => {
      const pool = new StandbyPool({
        dataDir: join(root, `${mode}-waiters`),
        logger,
        cli: defaultCliCommand(),
        env: process.env,
        isolation,
        perKey: 2,
      });
      try {
        const sbSpec = { location: 'hello', module: MODULE, cwd: process.cwd(), env: {} };
        pool.prewarm(sbSpec);
        assert.equal(pool.counts().booting, 2);
        assert.equal(pool.take(sbSpec), undefined, 'none ready yet');
        const first = pool.nextReady(sbSpec);
        const second = pool.nextReady(sbSpec);
        // Both booting ones are promised: a third launch is told to spawn cold at once.
        assert.equal(await pool.nextReady(sbSpec), undefined);
        const [a, b] = await Promise.all([first, second]);
        assert.ok(a && b && a !== b);
        assert.equal(a.state, 'ready');
        assert.equal(b.state, 'ready');
        assert.ok(a.taken && b.taken);
        assert.equal(pool.counts().ready + pool.counts().booting, 0, 'both handed out, none idle');
        for (const sb of [a, b]) {
          sb.child.disconnect();
          await until('the unused standby to exit', () => !alive(sb.pid));
        }
      } finally {
        pool.stop();
      }
    });

    test('a launch waiting on a booting standby that dies is told to spawn cold', async () => {
      const pool = new StandbyPool({
        dataDir: join(root, `${mode}-waiter-dies`),
        logger,
        cli: defaultCliCommand(),
        env: process.env,
        isolation,
        perKey: 1,
      });
      try {
        const sbSpec = { location: 'hello', module: MODULE, cwd: process.cwd(), env: {} };
        pool.prewarm(sbSpec);
        const [pid] = pool.pids();
        const waiting = pool.nextReady(sbSpec);
        process.kill(-pid!, 'SIGKILL');
        assert.equal(await waiting, undefined);
      } finally {
        pool.stop();
      }
    });

    test('launches that outrun the pool raise its target up to a bound; it decays after a quiet period', () => {
      let now = 1_000_000;
      const pool = new StandbyPool({
        dataDir: join(root, `${mode}-burst`),
        logger,
        cli: defaultCliCommand(),
        env: process.env,
        perKey: 1,
        maxPerKey: 3,
        burstDecayMs: 60_000,
        clock: () => now,
      });
      const sbSpec = { location: 'hello', module: MODULE, cwd: process.cwd(), env: {} };
      const key = standbyKey(sbSpec);
      assert.equal(pool.target(key), 1);
      for (let i = 0; i < 5; i++) assert.equal(pool.take(sbSpec), undefined);
      assert.equal(pool.target(key), 3);
      now += 60_001;
      assert.equal(pool.target(key), 1);
      pool.stop();
    });

    test('a hit that leaves no ready standby, sooner after the previous take than a boot lasts, raises the target', async () => {
      // Launches arriving faster than a standby boots will find the replacement still booting:
      // the pool grows on the hit that shows it, not only on the miss that makes a launch wait.
      let now = 1_000_000;
      const pool = new StandbyPool({
        dataDir: join(root, `${mode}-near-miss`),
        logger,
        cli: defaultCliCommand(),
        env: process.env,
        isolation,
        perKey: 2,
        maxPerKey: 4,
        clock: () => now,
      });
      const sbSpec = { location: 'hello', module: MODULE, cwd: process.cwd(), env: {} };
      const key = standbyKey(sbSpec);
      // Taken standbys are the launcher's, not the pool's: stop() leaves them, and their open
      // channels would hold this test process open. Each is let go at the end.
      const taken: Standby[] = [];
      const take = (): boolean => {
        const sb = pool.take(sbSpec);
        if (sb) taken.push(sb);
        return sb !== undefined;
      };
      try {
        pool.prewarm(sbSpec);
        now += 300; // each standby took 300 ms (on the pool's clock) to turn ready
        await until('both standbys ready', () => pool.counts().ready === 2);
        // Slow launches (further apart than a boot): the pool stays at rest.
        assert.ok(take());
        now += 1_000;
        assert.ok(take());
        assert.equal(pool.target(key), 2);
        pool.prewarm(sbSpec);
        now += 300;
        await until('the refills ready', () => pool.counts().ready === 2);
        // Two launches 50 ms apart take both: the next one would wait for a booting standby.
        now += 5_000;
        assert.ok(take());
        now += 50;
        assert.ok(take());
        assert.equal(pool.target(key), 3);
      } finally {
        pool.stop();
        for (const sb of taken) {
          if (sb.child.connected) sb.child.disconnect();
          await until('the unused standby to exit', () => !alive(sb.pid));
        }
      }
    });

    test('a newer location version retires older standbys; stop() leaves none running', async () => {
      let version = 1;
      const launcher = newLauncher(isolation, 'versions', () => version);
      launcher.prewarm({ location: 'hello', module: MODULE });
      await until('a ready v1 standby', () => launcher.standbys.counts().ready === 1);
      const [v1] = launcher.standbys.pids();
      version = 2;
      launcher.prewarm({ location: 'hello', module: MODULE });
      await until('v1 standby to exit', () => !alive(v1));
      await until('a ready v2 standby', () => launcher.standbys.counts().ready === 1);
      const [v2] = launcher.standbys.pids();
      assert.notEqual(v2, v1);
      launcher.stop();
      await until('v2 standby to exit', () => !alive(v2));
    });

    test('a location that fails to import is not kept warm; its runs start cold and report the error', async () => {
      const launcher = newLauncher(isolation, 'broken');
      try {
        launcher.prewarm({ location: 'broken', module: BROKEN });
        await until(
          'the failed standby to be retired',
          () => launcher.standbys.spawned === 1 && launcher.standbys.pids().length === 0,
        );
        const handle = await launcher.launch(spec('run_broken', 'anything', BROKEN));
        assert.doesNotMatch(handle.ref, /warm/);
        // A cold worker reads its config from the file.
        assert.ok(existsSync(join(dirname(launcher.spoolDir('run_broken')), 'config.json')));
        const evs = await finished(launcher, 'run_broken');
        assert.equal(evs.at(-1)?.type, 'RUN_FAILURE');
        assert.match(evs.at(-1)?.message ?? '', /broken on purpose/);
        // The failing key is paused: no standby was started again for it.
        assert.equal(launcher.standbys.spawned, 1);
      } finally {
        launcher.stop();
      }
    });

    test('crash mid-handoff, standby never got the run: it exits, the next agent spawns once', async () => {
      const first = newLauncher(isolation, 'crash-before-send');
      first.prewarm({ location: 'hello', module: MODULE });
      await until('a ready standby', () => first.standbys.counts().ready === 1);
      const sb = first.standbys.take({ location: 'hello', module: MODULE, cwd: process.cwd(), env: {} })!;
      const runId = 'run_crash_unsent';
      beginHandoff(first, sb, runId, 'hello');
      // The agent dies before sending: the channel closes with it.
      sb.child.disconnect();
      const next = newLauncher(isolation, 'crash-before-send');
      const handle = await next.launch(spec(runId, 'hello'));
      assert.doesNotMatch(handle.ref, /warm/);
      assert.equal((await finished(next, runId)).at(-1)?.type, 'RUN_SUCCESS');
      assert.equal(next.spawnCount(runId), 1);
      assert.ok(!alive(sb.pid), 'the standby that never got the run exited');
      next.stop();
    });

    test('crash mid-handoff, standby took the run: the next agent adopts it, nothing respawned', async () => {
      const first = newLauncher(isolation, 'crash-after-send');
      first.prewarm({ location: 'hello', module: MODULE });
      await until('a ready standby', () => first.standbys.counts().ready === 1);
      const sb = first.standbys.take({ location: 'hello', module: MODULE, cwd: process.cwd(), env: {} })!;
      const runId = 'run_crash_sent';
      const { message, spoolDir } = beginHandoff(first, sb, runId, 'sleepy', { seconds: 2 });
      // The agent dies right after sending, before recording process.json, and the next one
      // starts (it clears the standby directories) before the worker, slowed down here, has
      // read its run: the run must not depend on anything left there. It once did (its config
      // file), and ended RUN_FAILURE whenever the CPU was starved at that moment.
      process.kill(-sb.pid, 'SIGSTOP');
      sb.child.send(message);
      if (sb.child.connected) sb.child.disconnect();
      const next = newLauncher(isolation, 'crash-after-send');
      process.kill(-sb.pid, 'SIGCONT');
      // Once it has claimed the run it is the one running it, however long RUN_START takes.
      await until('the standby to claim the run', () => existsSync(join(spoolDir, STANDBY_CLAIM_FILE)));
      const handle = await next.launch(spec(runId, 'sleepy', MODULE, { seconds: 2 }));
      assert.equal(handle.adopted, true);
      assert.equal(handle.ref, `pid ${sb.pid} (warm)`);
      await until('the adopted worker to finish', () => !alive(sb.pid));
      const evs = events(next, runId);
      assert.equal(evs.at(-1)?.type, 'RUN_SUCCESS', JSON.stringify(evs.at(-1)));
      assert.deepEqual(
        evs.map((e) => e.seq),
        evs.map((_, i) => i + 1),
      );
      assert.equal(next.spawnCount(runId), 1);
      next.stop();
      first.stop();
    });

    test('crash mid-handoff, standby undecided at the recovery deadline: the claim decides, one run', async () => {
      const first = newLauncher(isolation, 'crash-undecided');
      first.prewarm({ location: 'hello', module: MODULE });
      await until('a ready standby', () => first.standbys.counts().ready === 1);
      const sb = first.standbys.take({ location: 'hello', module: MODULE, cwd: process.cwd(), env: {} })!;
      const runId = 'run_crash_undecided';
      const { message } = beginHandoff(first, sb, runId, 'hello');
      // A starved standby: the run is in its channel but it cannot act before the deadline.
      process.kill(-sb.pid, 'SIGSTOP');
      sb.child.send(message);
      if (sb.child.connected) sb.child.disconnect();
      const next = newLauncher(isolation, 'crash-undecided');
      const handle = await next.launch(spec(runId, 'hello'));
      // The recovering agent claimed the run first: the standby is gone and can never run it.
      assert.doesNotMatch(handle.ref, /warm/);
      assert.equal(handoffClaimant(next.spoolDir(runId)), 'agent');
      await until('the stopped standby to be killed', () => !alive(sb.pid));
      const evs = await finished(next, runId);
      assert.equal(evs.filter((e) => e.type === 'RUN_START').length, 1);
      assert.equal(evs.at(-1)?.type, 'RUN_SUCCESS');
      assert.equal(next.spawnCount(runId), 1);
      next.stop();
      first.stop();
    });
  });
}

/** What handOff does before sending: intent naming the standby, its spool moved into the run. */
function beginHandoff(
  launcher: ProcessLauncher,
  sb: Standby,
  runId: string,
  job: string,
  runConfig: Record<string, unknown> = {},
): { message: StandbyRunMessage; spoolDir: string } {
  const dir = launcher.runDir(runId);
  const spoolDir = launcher.spoolDir(runId);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'intent.json'),
    JSON.stringify({ runId, at: Date.now(), standby: { pid: sb.pid, startTime: sb.startTime } }),
  );
  renameSync(join(sb.dir, 'spool'), spoolDir);
  // As handOff does: the standby's record and directory go (it is the run's worker now). A
  // sandboxed standby keeps writing its spool at the old path inside (a mount that follows
  // the rename).
  forgetStandbyProcess(sb.dir);
  rmSync(sb.dir, { recursive: true, force: true });
  const sandboxed = readFileSync(`/proc/${sb.pid}/cmdline`, 'utf8').includes('bwrap');
  const inside = sandboxed ? standbySpoolInside(dirname(dirname(dir))) : spoolDir;
  return { message: { type: 'run', runId, job, runConfig, spoolDir: inside }, spoolDir };
}
