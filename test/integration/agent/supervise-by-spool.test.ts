// Supervision after an agent restart, when this host's record of a run's worker does not stand
// for the worker: superviseRun (scheduled with the launch, as the run workflow does) runs in a
// fresh set of activities (an empty launch board, as in a restarted agent) for a CANCELING run
// whose real run worker (`outpost api execute-run`, detached) still runs and writes its spool.
//   - the record names another process (as when a sandbox's outer bwrap process was recorded:
//     termination's SIGTERM kills it and the worker inside runs on);
//   - there is no record at all (an agent killed between a hand-off and its record), for
//     supervision and for the launch retried then (it must adopt the worker, not skip the run).
// Either way the agent must not append its own ENGINE + RUN_CANCELED while the worker writes:
// supervision finds the worker by its spool, stops it, drains it, and the run ends with the
// worker's own RUN_CANCELED, the stored events being exactly the spool's.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { type LaunchOutcome, type SuperviseResult } from '../../../activities/index.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { readProcStat } from '../../../src/agent/launchers/proc.js';
import { recordRunProcess, runDir, spoolOf, writeIntent } from '../../../src/agent/launchers/run-records.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import { CLI } from '../../support/code-server-process.js';
import { startHelloStack, type ScriptedStack } from '../../support/scripted-agent.js';
import { runActivities } from '../../support/run-activities.js';
import { until } from '../../support/wait.js';

const HELLO = resolve('examples/hello/definitions.ts');

describe('superviseRun in a restarted agent, for a CANCELING run whose record does not stand for its worker', () => {
  let s: ScriptedStack;
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-supervise-spool-'));
  const children: ChildProcess[] = [];

  before(async () => {
    s = await startHelloStack();
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await s?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A fresh agent's run activities on this data dir (a new launcher and board, as after a restart). */
  function freshActivities() {
    const launcher = new ProcessLauncher({ dataDir, logger: createLogger({ name: 'agent', level: 'warn' }) });
    return {
      activities: runActivities(s, { launcher, hostTaskQueue: 'supervise-by-spool', supervisePollMs: 100 }),
      launcher,
    };
  }

  /** A STARTED run of `sleepy` whose real worker runs detached, writing the run's spool here. */
  async function runningWorker(): Promise<{ runId: string; worker: ChildProcess; spool: string }> {
    const runId = await s.launch('sleepy', { seconds: 120 });
    await s.claimLaunch(runId, { reportLaunched: true });
    const dir = runDir(dataDir, runId);
    const spool = spoolOf(dir);
    mkdirSync(spool, { recursive: true });
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ seconds: 120 }));
    const out = openSync(join(spool, SPOOL_FILES.stdout), 'a');
    const err = openSync(join(spool, SPOOL_FILES.stderr), 'a');
    const worker = spawn(
      process.execPath,
      [...CLI, 'api', 'execute-run', '--run-id', runId, '--module', HELLO, '--job', 'sleepy'].concat([
        '--config-file',
        configFile,
        '--spool-dir',
        spool,
      ]),
      { detached: true, stdio: ['ignore', out, err] },
    );
    closeSync(out);
    closeSync(err);
    children.push(worker);
    await until('the worker is napping', () => spoolTypes(spool).includes('STEP_START'), 60_000, 50);
    return { runId, worker, spool };
  }

  async function terminate(runId: string): Promise<void> {
    await s.user('mutation($id: ID!) { terminateRun(id: $id) { id } }', { id: runId });
  }

  async function storedEvents(runId: string): Promise<Array<{ workerSeq: number | null; type: string }>> {
    const r = await s.user<{ run: { status: string; events: Array<{ workerSeq: number | null; type: string }> } }>(
      'query($id: ID!) { run(id: $id) { status events(afterSeq: 0, first: 1000) { workerSeq type } } }',
      { id: runId },
    );
    return r.run.events;
  }

  /** The case's assertions: the worker's own ending, every spool event stored once, nothing of the agent's. */
  async function assertEndedByWorker(runId: string, spool: string, worker: ChildProcess, status: string) {
    assert.equal(status, 'CANCELED', 'supervision ends the run CANCELED');
    const agents = (await storedEvents(runId)).filter((e) => e.type === 'ENGINE' && e.workerSeq !== null);
    assert.deepEqual(agents, [], 'the agent appended its own ENGINE + terminal pair while the worker was alive');
    await until('the worker exited', () => worker.exitCode !== null || worker.signalCode !== null, 30_000, 50);
    const stored = (await storedEvents(runId)).filter((e) => e.workerSeq !== null);
    const written = spoolTypes(spool);
    assert.deepEqual(
      stored.map((e) => `${e.workerSeq} ${e.type}`),
      written.map((t, i) => `${i + 1} ${t}`),
      'stored events are exactly the spool (no ENGINE + RUN_CANCELED of the agent on top of a live worker)',
    );
    assert.equal(written.at(-1), 'RUN_CANCELED', "the worker's own RUN_CANCELED ends the run");
  }

  /**
   * Terminates the run, then, as a fresh agent on this host would: terminateProcess with no handle
   * of its own, then (after `between`) superviseRun. Answers whether termination signalled
   * anything, and how supervision ended the run.
   */
  async function terminateThenSupervise(
    runId: string,
    between: () => void = () => undefined,
  ): Promise<{ signaled: boolean; status: string }> {
    await terminate(runId);
    const { activities } = freshActivities();
    const handle = { runId, launcher: 'process', ref: '', adopted: false };
    const env = new MockActivityEnvironment();
    const stopped = await env.run<[], { signaled: boolean }, () => Promise<{ signaled: boolean }>>(() =>
      activities.terminateProcess(handle, 1_000),
    );
    between();
    const result = await env.run<[], SuperviseResult, () => Promise<SuperviseResult>>(() =>
      activities.superviseRun(handle, { withLaunch: true }),
    );
    return { signaled: stopped.signaled, status: result.status };
  }

  test('the recorded process is another one, killed by termination: the worker is found by its spool', async () => {
    const { runId, worker, spool } = await runningWorker();
    // The record names a process of its own group, as a sandbox's outer process would be.
    const decoy = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
    children.push(decoy);
    const st = readProcStat(decoy.pid!)!;
    recordRunProcess(runDir(dataDir, runId), {
      pid: decoy.pid!,
      startTime: st.startTime,
      pgid: decoy.pid!,
      spawnedAt: Date.now(),
    });
    // Termination reaches only the recorded process; the worker is not signalled by it.
    const { signaled, status } = await terminateThenSupervise(runId, () =>
      assert.equal(worker.exitCode, null, 'the worker runs on'),
    );
    assert.equal(signaled, true);
    await assertEndedByWorker(runId, spool, worker, status);
  });

  test('no record at all: supervision drains the spool instead of reporting the run stopped', async () => {
    const { runId, worker, spool } = await runningWorker();
    // Records the termination on this host; there is nothing recorded to signal.
    const { signaled, status } = await terminateThenSupervise(runId);
    assert.equal(signaled, false);
    await assertEndedByWorker(runId, spool, worker, status);
  });

  test('no record, only the intent: the retried launch adopts the worker instead of skipping the run', async () => {
    const { runId, worker, spool } = await runningWorker();
    writeIntent(runDir(dataDir, runId), { runId, at: Date.now() });
    await terminate(runId);
    const { activities } = freshActivities();
    const env = new MockActivityEnvironment();
    const payload = { runId, location: 'hello', job: 'sleepy', runConfig: { seconds: 120 }, tags: {} };
    const outcome = await env.run<[], LaunchOutcome, () => Promise<LaunchOutcome>>(() => activities.launchRun(payload));
    // Skipped, the workflow would end the run "before it was launched" on top of the live worker.
    assert.ok('launched' in outcome, `launch outcome ${JSON.stringify(outcome)}`);
    assert.equal(outcome.launched.adopted, true);
    const stopped = await env.run<[], { signaled: boolean }, () => Promise<{ signaled: boolean }>>(() =>
      activities.terminateProcess(outcome.launched, 5_000),
    );
    assert.equal(stopped.signaled, true, 'the adopted worker is signalled');
    const result = await env.run<[], SuperviseResult, () => Promise<SuperviseResult>>(() =>
      activities.superviseRun(outcome.launched, { terminating: true }),
    );
    await assertEndedByWorker(runId, spool, worker, result.status);
  });
});

function spoolTypes(spool: string): string[] {
  let text = '';
  try {
    text = readFileSync(join(spool, SPOOL_FILES.events), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { type: string }).type);
}
