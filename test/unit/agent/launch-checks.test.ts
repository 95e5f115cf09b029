// LaunchChecks: a launch takes the cursor the poller asked for at claim time once, and only
// while it is fresh; a failed or stale prefetch leaves the launch to ask the control plane.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LaunchChecks } from '../../../src/agent/launch-checks.js';
import type { RunCursor } from '../../../src/agent/control-plane-client.js';

const cursorOf = (runId: string, status: RunCursor['status'] = 'QUEUED'): RunCursor => ({
  runId,
  lastSeq: 0,
  stdoutBytes: 0,
  stderrBytes: 0,
  status,
});

test('a prefetched cursor is taken once, then the launch asks itself', async () => {
  const asked: string[] = [];
  const checks = new LaunchChecks((runId) => {
    asked.push(runId);
    return Promise.resolve(cursorOf(runId, 'CANCELING'));
  });
  assert.equal(checks.take('r1'), undefined, 'nothing prefetched');
  checks.prefetch('r1');
  assert.deepEqual(asked, ['r1'], 'asked at once');
  assert.deepEqual(await checks.take('r1'), cursorOf('r1', 'CANCELING'));
  assert.equal(checks.take('r1'), undefined, 'used once');
});

test('a stale prefetch is not used', async () => {
  let now = 1_000;
  const checks = new LaunchChecks(
    (runId) => Promise.resolve(cursorOf(runId)),
    500,
    () => now,
  );
  checks.prefetch('r1');
  now += 501;
  assert.equal(checks.take('r1'), undefined);
  checks.prefetch('r2');
  now += 500;
  assert.deepEqual(await checks.take('r2'), cursorOf('r2'), 'fresh up to maxAgeMs');
});

test('a prefetch that fails answers undefined (the launch asks), without an unhandled rejection', async () => {
  const checks = new LaunchChecks(() => Promise.reject(new Error('control plane down')));
  checks.prefetch('r1');
  assert.equal(await checks.take('r1'), undefined);
});
