// A run's spool ships from the moment its launch is reported, before its superviseRun activity
// starts (activities/ship-ahead.ts): the run workflow's supervision exists only once the task
// that launched the run has completed, and a worker logging in a loop writes thousands of events
// meanwhile. Real parts: the control plane (SQLite), the agent's ProcessLauncher and a real
// `chatty` run worker of examples/hello, launchRun and superviseRun as the run workflow runs them.
// Supervision, when it comes, goes on with the same spool: every spool event is stored exactly
// once (worker seqs 1..N in the spool's order), and the run ends with the worker's own event.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { type LaunchOutcome, type SuperviseResult } from '../../../activities/index.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import { startHelloStack, type ScriptedStack } from '../../support/scripted-agent.js';
import { runActivities } from '../../support/run-activities.js';
import { until } from '../../support/wait.js';

const EVENTS = 3_000;

describe('shipping a run spool ahead of its supervision', () => {
  let s: ScriptedStack;
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-ship-ahead-'));
  let launcher: ProcessLauncher | undefined;

  before(async () => {
    s = await startHelloStack();
  });
  after(async () => {
    launcher?.stop();
    await s?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function activities() {
    const l = new ProcessLauncher({ dataDir, logger: createLogger({ name: 'agent', level: 'warn' }) });
    launcher = l;
    return { acts: runActivities(s, { launcher: l, hostTaskQueue: 'ship-ahead', supervisePollMs: 100 }), launcher: l };
  }

  type Stored = { status: string; events: Array<{ workerSeq: number | null; type: string }> };
  /** The run's status and every stored event, a page (the API's 1,000 at most) at a time. */
  async function stored(runId: string): Promise<Stored> {
    const out: Stored = { status: '', events: [] };
    for (let after = 0; ;) {
      const r = await s.user<{
        run: { status: string; events: Array<{ seq: number; workerSeq: number | null; type: string }> };
      }>(
        'query($id: ID!, $after: Int!) { run(id: $id) { status events(afterSeq: $after, first: 1000) { seq workerSeq type } } }',
        { id: runId, after },
      );
      out.status ||= r.run.status;
      out.events.push(...r.run.events);
      if (r.run.events.length < 1000) return out;
      after = r.run.events.at(-1)!.seq;
    }
  }

  test('events are stored before superviseRun starts, and supervision goes on with the same spool', async () => {
    const { acts, launcher: l } = activities();
    const runId = await s.launch('chatty', { events: EVENTS });
    await s.claimLaunch(runId);
    const env = new MockActivityEnvironment();
    const payload = { runId, location: 'hello', job: 'chatty', runConfig: { events: EVENTS }, tags: {} };
    const outcome = await env.run<[], LaunchOutcome, () => Promise<LaunchOutcome>>(() => acts.launchRun(payload));
    assert.ok('launched' in outcome, `launch outcome ${JSON.stringify(outcome)}`);
    // No superviseRun yet: the launch report stored at most its first events; the rest ship ahead.
    await until(
      'the whole run stored without supervision',
      async () => {
        const r = await s.user<{ run: { status: string } }>('query($id: ID!) { run(id: $id) { status } }', {
          id: runId,
        });
        return r.run.status === 'SUCCESS';
      },
      30_000,
      50,
    );
    const result = await env.run<[], SuperviseResult, () => Promise<SuperviseResult>>(() =>
      acts.superviseRun(outcome.launched, { withLaunch: true }),
    );
    assert.equal(result.status, 'SUCCESS');
    const spool = readFileSync(join(l.spoolDir(runId), SPOOL_FILES.events), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { seq: number; type: string });
    assert.ok(spool.length > EVENTS, `the spool holds the run's events (${spool.length})`);
    const run = await stored(runId);
    assert.deepEqual(
      run.events.filter((e) => e.workerSeq !== null).map((e) => `${e.workerSeq} ${e.type}`),
      spool.map((e, i) => `${i + 1} ${e.type}`),
      'every spool event stored exactly once, in order',
    );
    assert.equal(spool.at(-1)!.type, 'RUN_SUCCESS');
    assert.equal(result.lastSeq, spool.length);
  });
});
