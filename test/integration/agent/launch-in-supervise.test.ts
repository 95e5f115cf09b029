// runWorkflowV4 launches inside superviseRun, so the workflow's `terminate` may reach the host
// before or during the launch (V3 always launched first). terminateProcess records the request
// first (a launch that begins later starts no worker) and waits for a launch under way here (its
// worker then gets the SIGTERM). Real parts: the control plane (SQLite), the agent's
// ProcessLauncher, real `sleepy` run workers of examples/hello, the activities as the workflow
// runs them (MockActivityEnvironment).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { SuperviseResult } from '../../../activities/index.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { outpostWorkerMatch } from '../../../src/agent/launchers/recovery.js';
import { configFileOf, runDir, spoolOf, writeIntent } from '../../../src/agent/launchers/run-records.js';
import { isSameLiveProcess, readProcStat } from '../../../src/agent/launchers/proc.js';
import { CLI } from '../../support/code-server-process.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import { startHelloStack, type ScriptedStack } from '../../support/scripted-agent.js';
import { runActivities } from '../../support/run-activities.js';
import { until } from '../../support/wait.js';

describe('the launch inside supervision (runWorkflowV4) and termination', () => {
  let s: ScriptedStack;
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-launch-in-supervise-'));
  const launchers: ProcessLauncher[] = [];
  const children: ChildProcess[] = [];

  before(async () => {
    s = await startHelloStack();
  });
  after(async () => {
    for (const l of launchers) l.stop();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await s?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function activities(o: { maxBooting?: number } = {}) {
    const logger = createLogger({ name: 'agent', level: 'warn' });
    const launcher = new ProcessLauncher({ dataDir, logger, ...o });
    launchers.push(launcher);
    return { acts: runActivities(s, { launcher, hostTaskQueue: 'v4', supervisePollMs: 100 }), launcher };
  }

  async function status(runId: string): Promise<{ status: string; types: string[] }> {
    const r = await s.user<{ run: { status: string; events: Array<{ type: string }> } }>(
      'query($id: ID!) { run(id: $id) { status events { type } } }',
      { id: runId },
    );
    return { status: r.run.status, types: r.run.events.map((e) => e.type) };
  }

  const payloadOf = (runId: string) => ({
    runId,
    location: 'hello',
    job: 'sleepy',
    runConfig: { seconds: 300 },
    tags: {},
  });
  const supervise = (acts: ReturnType<typeof activities>['acts'], runId: string): Promise<SuperviseResult> => {
    const handle = { runId, launcher: '', ref: '', adopted: false };
    return new MockActivityEnvironment().run(() => acts.superviseRun(handle, { launch: payloadOf(runId) }));
  };
  const terminate = (
    acts: ReturnType<typeof activities>['acts'],
    runId: string,
  ): Promise<{ signaled: boolean; killed: boolean }> =>
    new MockActivityEnvironment().run(() =>
      acts.terminateProcess({ runId, launcher: '', ref: '', adopted: false }, 5_000),
    );

  test('terminated before its launch: no worker starts, the run ends CANCELED', async () => {
    const { acts, launcher } = activities();
    const runId = await s.launch('sleepy', { seconds: 300 });
    await s.claimLaunch(runId);
    // An operator's `terminate` signal (the store still says QUEUED): nothing to signal yet.
    assert.deepEqual(await terminate(acts, runId), { signaled: false, killed: false });
    const result = await supervise(acts, runId);
    assert.equal(result.status, 'CANCELED');
    assert.equal(launcher.spawnCount(runId), 0, 'no worker spawned');
    const run = await status(runId);
    assert.equal(run.status, 'CANCELED');
    assert.ok(run.types.includes('RUN_CANCELED'), run.types.join(','));
  });

  test('terminated while its launch waits for a boot slot: the launched worker gets the SIGTERM', async () => {
    const { acts, launcher } = activities({ maxBooting: 1 });
    const runId = await s.launch('sleepy', { seconds: 300 });
    await s.claimLaunch(runId);
    // The only boot slot is taken: the launch passes its checks and then waits (nothing recorded).
    const release = await launcher.bootSlots.acquire();
    const supervised = supervise(acts, runId);
    await until('the launch waits for a boot slot', () => existsSync(configFileOf(launcher.runDir(runId))), 10_000, 10);
    let settled = false;
    const terminated = terminate(acts, runId).finally(() => (settled = true));
    await sleep(300);
    assert.equal(settled, false, 'the termination waits for the launch under way');
    release();
    assert.equal((await terminated).signaled, true, 'the worker launched meanwhile was signalled');
    const result = await supervised;
    assert.equal(result.status, 'CANCELED');
    assert.equal(launcher.spawnCount(runId), 1, 'launched once');
    assert.equal(await launcher.isAlive(runId), false);
    assert.equal((await status(runId)).status, 'CANCELED');
  });

  test('an agent killed between spawn and record, then terminated: the unrecorded worker is stopped, not left running', async () => {
    const runId = await s.launch('sleepy', { seconds: 300 });
    await s.claimLaunch(runId);
    // What the killed agent left: its intent, and the worker it spawned (not yet recorded, no
    // event written yet: frozen right after its exec, as a booting worker is for a second or more).
    const dir = runDir(dataDir, runId);
    const spool = spoolOf(dir);
    mkdirSync(spool, { recursive: true, mode: 0o700 });
    writeFileSync(configFileOf(dir), JSON.stringify({ seconds: 300 }));
    writeIntent(dir, { runId, at: Date.now(), match: outpostWorkerMatch(runId) });
    const module = resolve('examples/hello/definitions.ts');
    const args = ['api', 'execute-run', '--run-id', runId, '--module', module, '--job', 'sleepy'];
    const worker = spawn(
      process.execPath,
      [...CLI, ...args, '--config-file', configFileOf(dir), '--spool-dir', spool],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    children.push(worker);
    process.kill(worker.pid!, 'SIGSTOP');
    const st = readProcStat(worker.pid!)!;
    // The restarted agent: the workflow's terminateProcess, then superviseRun's retry (launch first).
    const { acts } = activities();
    await terminate(acts, runId);
    const result = await supervise(acts, runId);
    assert.equal(result.status, 'CANCELED');
    // Let it go on, if it still exists (unstopped, it would run the job on).
    try {
      process.kill(worker.pid!, 'SIGCONT');
    } catch {
      // Already gone: stopped by the termination.
    }
    await until('the worker is gone', () => !isSameLiveProcess(worker.pid!, st.startTime), 20_000, 50);
  });

  test('terminated after its launch failed: the drain ends the run CANCELED, with no worker', async () => {
    const { acts } = activities();
    const runId = await s.launch('sleepy', { seconds: 300 });
    await s.claimLaunch(runId);
    const handle = { runId, launcher: '', ref: '', adopted: false };
    const payload = { runId, location: 'no-such-location', job: 'sleepy', runConfig: {}, tags: {} };
    const failed = await new MockActivityEnvironment()
      .run(() => acts.superviseRun(handle, { launch: payload }))
      .then(
        () => undefined,
        (err: Error) => err,
      );
    assert.ok(failed, 'the launch failed');
    assert.deepEqual(await terminate(acts, runId), { signaled: false, killed: false });
    const drained = await new MockActivityEnvironment().run<[], SuperviseResult, () => Promise<SuperviseResult>>(() =>
      acts.superviseRun(handle, { terminating: true }),
    );
    assert.equal(drained.status, 'CANCELED');
  });

  test('a second superviseRun attempt while the first still waits for a boot slot: one worker, both end with it', async () => {
    const { acts, launcher } = activities({ maxBooting: 1 });
    const runId = await s.launch('sleepy', { seconds: 300 });
    await s.claimLaunch(runId);
    const release = await launcher.bootSlots.acquire();
    // Attempt 1 outlived its heartbeat timeout (Temporal's view), attempt 2 starts here meanwhile.
    const first = supervise(acts, runId).catch((err: Error) => err);
    await until('the launch waits for a boot slot', () => existsSync(configFileOf(launcher.runDir(runId))), 10_000, 10);
    const second = supervise(acts, runId).catch((err: Error) => err);
    await sleep(300);
    release();
    await until('a worker runs', () => launcher.isAlive(runId), 30_000, 50);
    const stopped = await terminate(acts, runId);
    assert.equal(stopped.signaled, true);
    const results = await Promise.all([first, second]);
    assert.equal(launcher.spawnCount(runId), 1, 'launched once');
    for (const r of results)
      assert.equal((r as SuperviseResult).status, 'CANCELED', r instanceof Error ? r.message : r.status);
    assert.equal((await status(runId)).status, 'CANCELED');
  });

  test('two endings of one run at once (a stale attempt and the live one): both answer the stored end', async () => {
    const { acts } = activities();
    const env = new MockActivityEnvironment();
    for (let i = 0; i < 4; i++) {
      const runId = await s.launch('sleepy', { seconds: 300 });
      await s.claimLaunch(runId);
      const endings = await Promise.allSettled([
        env.run(() => acts.endRunWithoutWorker(runId, 'RUN_CANCELED', 'run terminated before it was launched')),
        env.run(() => acts.endRunWithoutWorker(runId, 'RUN_FAILURE', 'launch failed')),
      ]);
      const failed = endings.filter((e) => e.status === 'rejected').map((e) => String(e.reason));
      assert.deepEqual(failed, [], 'an ending lost the race with a conflict instead of reading the stored end');
      assert.ok(['CANCELED', 'FAILURE'].includes((await status(runId)).status));
    }
  });

  test('terminated while its agent was down after a spawn it never recorded: the worker the launch then recovers is stopped', async () => {
    // kill -9 between spawn and record: intent.json and a running worker (it wrote RUN_START),
    // no process.json. The `terminate` reaches the restarted agent first, then superviseRun's
    // launch: between them the worker must be stopped, not run on for good.
    const before = activities();
    const runId = await s.launch('sleepy', { seconds: 300 });
    await s.claimLaunch(runId);
    await new MockActivityEnvironment().run(() => before.acts.launchRun(payloadOf(runId)));
    const events = join(before.launcher.spoolDir(runId), SPOOL_FILES.events);
    await until('RUN_START in the spool', () => existsSync(events) && statSync(events).size > 0, 20_000, 20);
    unlinkSync(join(before.launcher.runDir(runId), 'process.json'));
    const { acts, launcher } = activities(); // the restarted agent: same data dir, no children
    await terminate(acts, runId);
    const result = await Promise.race([supervise(acts, runId), sleep(30_000).then(() => undefined)]);
    if (result === undefined) await launcher.signal(runId, 'SIGKILL'); // leave nothing behind
    assert.ok(result, 'supervision ended: the recovered worker was stopped, not left to run 300 s');
    assert.equal(result.status, 'CANCELED');
    assert.equal(launcher.spawnCount(runId), 1, 'recovered, not spawned again');
    assert.equal((await status(runId)).status, 'CANCELED');
  });
});
