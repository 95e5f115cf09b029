// superviseRun holds its heartbeats back for the first seconds of an attempt (first-heartbeat.ts):
// the SDK sends an activity's first heartbeat to Temporal at once, so a heartbeat in a run's
// first second cost every run a RecordActivityTaskHeartbeat. Real parts: the control plane
// (SQLite), the agent's ProcessLauncher, a real `sleepy` run worker of examples/hello, the
// activities as the workflow runs them (MockActivityEnvironment, which reports every heartbeat
// call the activity makes, before any throttling).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { FIRST_HEARTBEAT_AFTER_MS } from '../../../activities/first-heartbeat.js';
import type { SuperviseResult } from '../../../activities/index.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { createLogger } from '../../../src/shared/logger.js';
import { startHelloStack, type ScriptedStack } from '../../support/scripted-agent.js';
import { runActivities } from '../../support/run-activities.js';

describe("superviseRun's heartbeats", () => {
  let s: ScriptedStack;
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-supervise-heartbeats-'));
  let launcher: ProcessLauncher | undefined;

  before(async () => {
    s = await startHelloStack();
  });
  after(async () => {
    launcher?.stop();
    await s?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('none in the first seconds of an attempt (launch included), then every pass until the run ends', async () => {
    launcher = new ProcessLauncher({ dataDir, logger: createLogger({ name: 'agent', level: 'warn' }) });
    const acts = runActivities(s, { launcher, hostTaskQueue: 'v4', supervisePollMs: 100 });
    const seconds = FIRST_HEARTBEAT_AFTER_MS / 1000 + 2;
    const runId = await s.launch('sleepy', { seconds });
    await s.claimLaunch(runId);
    const env = new MockActivityEnvironment();
    const beats: number[] = [];
    const start = Date.now();
    env.on('heartbeat', () => beats.push(Date.now() - start));
    const handle = { runId, launcher: '', ref: '', adopted: false };
    const payload = { runId, location: 'hello', job: 'sleepy', runConfig: { seconds }, tags: {} };
    const result: SuperviseResult = await env.run(() => acts.superviseRun(handle, { launch: payload }));
    assert.equal(result.status, 'SUCCESS');
    assert.ok(beats.length > 0, 'it heartbeats once the hold is over (the run outlives it)');
    assert.ok(
      beats.every((ms) => ms >= FIRST_HEARTBEAT_AFTER_MS),
      `first heartbeat ${beats[0]} ms into the attempt, before ${FIRST_HEARTBEAT_AFTER_MS}`,
    );
  });
});
