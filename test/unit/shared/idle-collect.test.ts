// A quiet process gives its young generation back; a busy one is left alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectWhenIdle } from '../../../src/shared/idle-collect.js';

const MIB = 1024 * 1024;
const newSpace = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;

/** Start-up's pattern: many short-lived objects, some surviving a while, which grows new space. */
function growNewSpace(): void {
  let keep: object[] = [];
  for (let i = 0; i < 3_000_000 && newSpace() < 8 * MIB; i++) {
    keep.push({ i, s: `x${i}` });
    if (keep.length > 200_000) keep = [];
  }
  assert.ok(newSpace() >= 8 * MIB, `new space grew to ${(newSpace() / MIB).toFixed(1)} MiB`);
}

test('a quiet event loop gets one collection, and new space shrinks to its floor', async () => {
  growNewSpace();
  const seen: Array<[number, number]> = [];
  // V8 shrinks new space once its last 5 s saw little allocation: the default window (6 s).
  const idle = collectWhenIdle({ onCollect: (before, after) => seen.push([before, after]) });
  try {
    for (let i = 0; i < 300 && idle.collections === 0; i++) await sleep(50);
    assert.equal(idle.collections, 1);
    const [before, after] = seen[0]!;
    assert.ok(before >= 8 * MIB, `before ${before}`);
    assert.ok(after <= 2 * MIB, `after ${after}`);
    // Small now: later quiet windows do nothing.
    await sleep(6_500);
    assert.equal(idle.collections, 1);
  } finally {
    idle.stop();
  }
  // The flag that lent the collector is off again: no new context gets `gc`.
  assert.equal(runInNewContext('typeof gc'), 'undefined');
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
});

test('a busy event loop is never collected, however large new space is', async () => {
  growNewSpace();
  const idle = collectWhenIdle({ windowMs: 100 });
  try {
    // Busy ~80 % of every window for 1.5 s (15 windows).
    const until = Date.now() + 1_500;
    while (Date.now() < until) {
      const spin = Date.now() + 20;
      while (Date.now() < spin) {
        /* busy */
      }
      await sleep(5);
    }
    assert.equal(idle.collections, 0);
  } finally {
    idle.stop();
  }
});

test('collections that leave new space large back off (1, 2, 4 ... windows skipped)', async () => {
  growNewSpace();
  // Right after the allocations V8 still sees a high rate and keeps new space large.
  const sizes: number[] = [];
  const idle = collectWhenIdle({ windowMs: 100, onCollect: (_before, after) => sizes.push(after) });
  try {
    await sleep(1_050);
  } finally {
    idle.stop();
  }
  assert.ok(idle.collections >= 1, 'the first quiet window collects');
  // Windows 1, 3, 6 and 11 at most, where one a window would be ten.
  assert.ok(idle.collections <= 4, `${idle.collections} collections in ten windows: ${sizes.join(', ')}`);
});
