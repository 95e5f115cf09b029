// A quiet process gives its young generation back; a busy one is left alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  afterCollection,
  collectWhenIdle,
  decideWindow,
  NO_BACKOFF,
  takeCollector,
  type IdleBackoff,
} from '../../../src/shared/idle-collect.js';

const MIB = 1024 * 1024;
const policy = { quietUtilization: 0.02, minNewSpaceBytes: 2 * MIB };

test('a busy window never collects, whatever the size of new space', () => {
  for (const utilization of [0.02, 0.5, 1]) {
    const step = decideWindow({ utilization, newSpaceBytes: 32 * MIB }, policy, NO_BACKOFF);
    assert.equal(step.collect, false);
  }
});

test('a quiet window collects only when new space is above its floor', () => {
  assert.equal(decideWindow({ utilization: 0.001, newSpaceBytes: 32 * MIB }, policy, NO_BACKOFF).collect, true);
  assert.equal(decideWindow({ utilization: 0.001, newSpaceBytes: 2 * MIB }, policy, NO_BACKOFF).collect, false);
  assert.equal(decideWindow({ utilization: 0.001, newSpaceBytes: 1 * MIB }, policy, NO_BACKOFF).collect, false);
});

test('collections that leave new space large back off 1, 2, 4 ... windows, up to 32; a small new space resets it', () => {
  let state: IdleBackoff = NO_BACKOFF;
  const collectedAt: number[] = [];
  const quietLarge = { utilization: 0, newSpaceBytes: 32 * MIB };
  for (let w = 1; w <= 200; w++) {
    const step = decideWindow(quietLarge, policy, state);
    state = step.next;
    if (step.collect) {
      collectedAt.push(w);
      state = afterCollection(8 * MIB, policy, state);
    }
  }
  assert.deepEqual(collectedAt.slice(0, 6), [1, 3, 6, 11, 20, 37]);
  // Capped: 33 windows apart from then on.
  assert.deepEqual(collectedAt.slice(6), [70, 103, 136, 169]);
  // New space back at its floor: the next large one collects at once again.
  state = decideWindow({ utilization: 0, newSpaceBytes: 1 * MIB }, policy, state).next;
  assert.deepEqual(state, NO_BACKOFF);
  assert.equal(decideWindow(quietLarge, policy, state).collect, true);
  // A collection that reaches the floor leaves no backoff.
  assert.deepEqual(afterCollection(1 * MIB, policy, { skip: 0, backoff: 8 }), NO_BACKOFF);
});

test("the process's own gc is used when it has one; else the flag lent to take one is off again", () => {
  const g = globalThis as { gc?: () => void };
  let calls = 0;
  g.gc = () => void calls++;
  try {
    takeCollector()?.();
    assert.equal(calls, 1);
  } finally {
    delete g.gc;
  }
  assert.equal(typeof takeCollector(), 'function');
  assert.equal(runInNewContext('typeof gc'), 'undefined');
  assert.equal(typeof g.gc, 'undefined');
});

const newSpace = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;

test('real V8: after a quiet window new space shrinks to its floor, once', async () => {
  // Start-up's pattern: many short-lived objects, some surviving a while, which grows new space.
  let keep: object[] = [];
  for (let i = 0; i < 3_000_000 && newSpace() < 8 * MIB; i++) {
    keep.push({ i, s: `x${i}` });
    if (keep.length > 200_000) keep = [];
  }
  assert.ok(newSpace() >= 8 * MIB, `new space grew to ${(newSpace() / MIB).toFixed(1)} MiB`);
  const seen: Array<[number, number]> = [];
  // V8 shrinks new space once its last 5 s saw little allocation: the default window (6 s).
  const idle = collectWhenIdle(takeCollector(), { onCollect: (before, after) => seen.push([before, after]) });
  try {
    for (let i = 0; i < 300 && idle.collections === 0; i++) await sleep(50);
    assert.equal(idle.collections, 1);
    const [before, after] = seen[0]!;
    assert.ok(before >= 8 * MIB, `before ${before}`);
    assert.ok(after <= 2 * MIB, `after ${after}`);
  } finally {
    idle.stop();
  }
});
