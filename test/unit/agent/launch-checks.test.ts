// LaunchChecks: a launch takes the cursor the poller asked for at claim time once, and only
// while it is fresh; a failed or stale prefetch leaves the launch to ask the control plane, and
// while launches come too late for a prefetch to be fresh, claims are not prefetched.
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

/** Checks on a clock the test moves, recording every runId the control plane is asked for. */
function recordingChecks(maxAgeMs: number, clock: { now: number }): { checks: LaunchChecks; asked: string[] } {
  const asked: string[] = [];
  const checks = new LaunchChecks(
    (runId) => {
      asked.push(runId);
      return Promise.resolve(cursorOf(runId));
    },
    maxAgeMs,
    () => clock.now,
  );
  return { checks, asked };
}

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

test('a cursor the claim brought is kept without asking the control plane, even while launches run late', async () => {
  const clock = { now: 1_000 };
  const { checks, asked } = recordingChecks(500, clock);
  checks.prefetch('r1', cursorOf('r1', 'CANCELING'));
  assert.deepEqual(asked, [], 'nothing asked');
  assert.deepEqual(await checks.take('r1'), cursorOf('r1', 'CANCELING'));
  // A late launch holds off asking ahead; a cursor that came with its claim costs nothing.
  checks.prefetch('r2');
  clock.now += 600;
  assert.equal(checks.take('r2'), undefined, 'stale');
  checks.prefetch('r3', cursorOf('r3'));
  assert.deepEqual(asked, ['r2']);
  assert.deepEqual(await checks.take('r3'), cursorOf('r3'));
});

test('a stale prefetch is not used', async () => {
  let now = 1_000;
  const checks = new LaunchChecks(
    (runId) => Promise.resolve(cursorOf(runId)),
    500,
    () => now,
  );
  checks.prefetch('r1');
  now += 500;
  assert.deepEqual(await checks.take('r1'), cursorOf('r1'), 'fresh up to maxAgeMs');
  checks.prefetch('r2');
  now += 501;
  assert.equal(checks.take('r2'), undefined);
});

test('while launches come later than maxAgeMs after their claim, claims are not prefetched; a launch in time, or quiet seconds, turn it back on', async () => {
  const clock = { now: 1_000 };
  const { checks, asked } = recordingChecks(500, clock);
  // A burst: three launches claimed at once, each launched seconds later.
  for (const r of ['a', 'b', 'c']) checks.prefetch(r);
  assert.deepEqual(asked, ['a', 'b', 'c'], 'launches were in time so far: asked at once');
  clock.now += 2_000;
  assert.equal(checks.take('a'), undefined, 'stale: the launch asks itself');
  checks.prefetch('d');
  assert.deepEqual(asked, ['a', 'b', 'c'], 'launches run late: a prefetch now would only be a second call');
  clock.now += 2_000;
  assert.equal(checks.take('b'), undefined);
  assert.equal(checks.take('d'), undefined, 'not prefetched (and late anyway): the launch asks itself');
  // The burst is over: a claim launched in time (not prefetched, so the launch asked) turns prefetching back on.
  checks.prefetch('e');
  clock.now += 100;
  assert.equal(checks.take('e'), undefined, 'not prefetched');
  checks.prefetch('f');
  assert.deepEqual(asked, ['a', 'b', 'c', 'f'], 'in time again: asked at once');
  clock.now += 100;
  assert.deepEqual(await checks.take('f'), cursorOf('f'));
  // A late launch, then none for a while: the next claim, launched on its own, is prefetched.
  checks.prefetch('g');
  clock.now += 2_000;
  assert.equal(checks.take('g'), undefined);
  clock.now += 5_001;
  checks.prefetch('h');
  assert.deepEqual(asked, ['a', 'b', 'c', 'f', 'g', 'h'], 'no late launch for 5 s: asked at once');
});

test('a prefetch that fails answers undefined (the launch asks), without an unhandled rejection', async () => {
  const checks = new LaunchChecks(() => Promise.reject(new Error('control plane down')));
  checks.prefetch('r1');
  assert.equal(await checks.take('r1'), undefined);
});

test('claims beyond 8 waiting for their launch are not prefetched (their launches come after those)', async () => {
  const clock = { now: 1_000 };
  const { checks, asked } = recordingChecks(1_000, clock);
  const ids = Array.from({ length: 12 }, (_, i) => `r${i}`);
  for (const r of ids) checks.prefetch(r);
  assert.deepEqual(asked, ids.slice(0, 8), 'the first 8 asked at once, the rest left to their launch');
  clock.now += 100;
  assert.deepEqual(await checks.take('r0'), cursorOf('r0'), 'in time: used');
  assert.equal(checks.take('r9'), undefined, 'not prefetched: the launch asks itself');
  checks.prefetch('r12');
  assert.equal(asked.length, 8, 'still 10 recent claims waiting');
  clock.now += 1_000;
  checks.prefetch('r13');
  assert.deepEqual(asked, [...ids.slice(0, 8), 'r13'], 'no claim of the last maxAgeMs waiting: asked at once');
});
