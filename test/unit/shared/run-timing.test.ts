// A run's duration, computed once from its events: the API, CLI and UI all show this number.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executionTimes, formatDurationMs, runDurationMs } from '../../../src/shared/run-timing.js';
import { planStatus } from '../../../src/control-plane/store/run-events.js';

test('execution times come from RUN_START and the first terminal event, in any order', () => {
  const events = [
    { type: 'ENGINE', timestamp: 50 },
    { type: 'RUN_SUCCESS', timestamp: 1_009 },
    { type: 'STEP_START', timestamp: 1_001 },
    { type: 'RUN_START', timestamp: 1_000 },
  ];
  assert.deepEqual(executionTimes(events), { startedAt: 1_000, endedAt: 1_009 });
  assert.deepEqual(executionTimes([{ type: 'LOG', timestamp: 3 }]), {});
});

test('duration: start to end; to now while running; none for a run that never started', () => {
  assert.equal(runDurationMs({ status: 'SUCCESS', startedAt: 1_000, endedAt: 1_009 }, 99_999), 9);
  assert.equal(runDurationMs({ status: 'STARTED', startedAt: 1_000, endedAt: null }, 61_000), 60_000);
  assert.equal(runDurationMs({ status: 'QUEUED', startedAt: null, endedAt: null }, 5_000), null);
  assert.equal(runDurationMs({ status: 'FAILURE', startedAt: null, endedAt: 4_000 }, 5_000), null);
  assert.equal(runDurationMs({ status: 'FAILURE', startedAt: 1_000, endedAt: null }, 5_000), null);
  // Two hosts' clocks may disagree a little: never a negative duration.
  assert.equal(runDurationMs({ status: 'STARTED', startedAt: 2_000, endedAt: null }, 1_990), 0);
});

test('one human form: 9 ms is 9 ms (the CLI once printed 0ms for it)', () => {
  assert.equal(formatDurationMs(9), '9 ms');
  assert.equal(formatDurationMs(1_500), '1.5 s');
  assert.equal(formatDurationMs(78_000), '1m 18s');
  assert.equal(formatDurationMs(2 * 3_600_000 + 5 * 60_000), '2h 5m');
  assert.equal(formatDurationMs(null), '—');
});

test('ingest records the events own times, not when the control plane heard of them', () => {
  const now = 500_000; // the batch arrives long after the run ran (an adopted run's backlog)
  const plan = planStatus(
    'STARTING',
    [
      { seq: 1, type: 'RUN_START', timestamp: 1_000 },
      { seq: 2, type: 'STEP_START', timestamp: 1_002 },
      { seq: 3, type: 'RUN_SUCCESS', timestamp: 61_000 },
    ],
    now,
  );
  assert.deepEqual(plan, { status: 'SUCCESS', startedAt: 1_000, endedAt: 61_000 });
  // A late RUN_SUCCESS after the run was already failed neither moves nor re-times it.
  assert.deepEqual(planStatus('FAILURE', [{ seq: 9, type: 'RUN_SUCCESS', timestamp: 7 }], now), {
    status: 'FAILURE',
    startedAt: undefined,
    endedAt: undefined,
  });
});
