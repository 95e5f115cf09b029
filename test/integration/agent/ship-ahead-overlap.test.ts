// Never two shippers on one spool (activities/ship-ahead.ts): shipping ahead starts only while no
// supervision of the run is under way in this process. A launch whose report comes after its
// supervision already holds the spool (a launchRun attempt retried while the first still runs:
// the retry adopts the worker and posts, supervision opens the spool, then the first attempt's
// report returns) must not open a second one. Real parts: the control plane (SQLite), the
// agent's ProcessLauncher, a real `chatty` run worker of examples/hello, launchRun and
// superviseRun as the run workflow runs them; the spool port is only counted (opens, closes).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { type LaunchOutcome, type SuperviseResult } from '../../../activities/index.js';
import { createControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { createLogger } from '../../../src/shared/logger.js';
import { startHelloStack, type ScriptedStack } from '../../support/scripted-agent.js';
import { runActivities } from '../../support/run-activities.js';
import { until } from '../../support/wait.js';

describe('shipping ahead never opens a second shipper on a supervised spool', () => {
  let s: ScriptedStack;
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-ship-ahead-overlap-'));
  let launcher: ProcessLauncher | undefined;

  before(async () => {
    s = await startHelloStack();
  });
  after(async () => {
    launcher?.stop();
    await s?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a launch report that returns after supervision opened the spool starts no shipper of its own', async () => {
    const logger = createLogger({ name: 'agent', level: 'warn' });
    const real = createControlPlaneClient({ url: s.url, token: s.agentToken });
    // The first launch attempt's report is held until the test lets it go (a slow answer).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reports = 0;
    let firstReportHeld = false;
    const controlPlane = Object.create(real) as typeof real;
    controlPlane.reportRunLaunchedWithEvents = async (...args) => {
      if (reports++ === 0) {
        firstReportHeld = true;
        await gate;
      }
      return real.reportRunLaunchedWithEvents(...args);
    };
    const l = new ProcessLauncher({ dataDir, logger });
    launcher = l;
    let live = 0;
    let maxLive = 0;
    const acts = runActivities(s, {
      launcher: l,
      hostTaskQueue: 'ship-ahead-overlap',
      supervisePollMs: 50,
      controlPlane,
      spool: (spools) => ({
        ...spools,
        open: (runId, cursor) => {
          const opened = spools.open(runId, cursor);
          live++;
          maxLive = Math.max(maxLive, live);
          let closed = false;
          const close = opened.close;
          return Object.assign(opened, {
            close: () => {
              if (!closed) live--;
              closed = true;
              close();
            },
          });
        },
      }),
    });

    const runId = await s.launch('chatty', { events: 2_000 });
    await s.claimLaunch(runId);
    const payload = { runId, location: 'hello', job: 'chatty', runConfig: { events: 2_000 }, tags: {} };
    const run = <T>(fn: () => Promise<T>) => new MockActivityEnvironment().run<[], T, () => Promise<T>>(fn);
    // Attempt 1 spawns the worker and waits on its report.
    const first = run<LaunchOutcome>(() => acts.launchRun(payload));
    await until('the first attempt reports', () => Promise.resolve(firstReportHeld), 30_000, 10);
    // Supervision scheduled with the launch waits for it; a retried attempt adopts and posts.
    const supervised = run<SuperviseResult>(() =>
      acts.superviseRun({ runId, launcher: '', ref: '', adopted: false }, { withLaunch: true }),
    );
    const retry = await run<LaunchOutcome>(() => acts.launchRun(payload));
    assert.ok('launched' in retry, `retry ${JSON.stringify(retry)}`);
    await until('supervision opened the spool', () => Promise.resolve(live === 1), 30_000, 10);
    // Now the first attempt's report comes back.
    release();
    const outcome = await first;
    assert.ok('launched' in outcome, `first ${JSON.stringify(outcome)}`);
    const result = await supervised;
    assert.equal(result.status, 'SUCCESS');
    assert.equal(maxLive, 1, 'one spool shipper for the run at a time');
    assert.equal(live, 0, 'no spool left open once supervision ended');
  });
});
