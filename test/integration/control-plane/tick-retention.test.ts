// Tick retention: a sensor writes a tick row per evaluation, so the daemon deletes finished ticks
// older than their retention (SKIPPED ones sooner), at most once per prune interval. Newer
// ticks and any tick still evaluating (STARTED) stay, whatever their age.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Daemon } from '../../../src/control-plane/daemon/daemon.js';
import { finishTickForItem, insertTick, listTicks } from '../../../src/control-plane/store/instigators.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';

const DAY = 86_400_000;

describeEachDialect('tick retention', (target) => {
  let store: Store;
  const clock = { now: Date.UTC(2026, 0, 1) };
  before(async () => {
    store = await Store.open({ url: await target.freshUrl(), clock: () => clock.now });
  });
  after(() => store.close());

  let n = 0;
  /** A SENSOR tick of `fast` created now, finished as `status` (or left STARTED). */
  async function tick(status: 'STARTED' | 'SUCCESS' | 'SKIPPED' | 'FAILURE'): Promise<string> {
    const workItemId = `wi_tick_${n++}`;
    const key = { location: 'loc', kind: 'SENSOR' as const, name: 'fast' };
    const id = await insertTick(store.db, store, { ...key, tickTime: clock.now, workItemId });
    if (status !== 'STARTED') {
      await finishTickForItem(store.db, store, workItemId, {
        status,
        ...(status === 'SKIPPED' ? { skipReason: 'nothing new' } : {}),
        ...(status === 'FAILURE' ? { error: 'boom' } : {}),
      });
    }
    return id;
  }

  test('finished ticks past their retention go; newer and in-flight ticks stay', async () => {
    const daemon = new Daemon(store, createLogger({ name: 'test', level: 'silent' }), {
      tickRetentionMs: 30 * DAY,
      skippedTickRetentionMs: 7 * DAY,
      pruneIntervalMs: 3_600_000,
    });
    const old = {
      started: await tick('STARTED'),
      success: await tick('SUCCESS'),
      failure: await tick('FAILURE'),
      skipped: await tick('SKIPPED'),
    };
    clock.now += 25 * DAY;
    const recent = { success: await tick('SUCCESS'), skipped: await tick('SKIPPED') };
    clock.now += 8 * DAY;
    const fresh = { skipped: await tick('SKIPPED') };
    const ids = async () => (await listTicks(store, 'loc', 'SENSOR', 'fast', 100)).map((t) => t.id).sort();

    // 33 days after the first ticks: the finished ones of then go, and the 8-day-old SKIPPED one.
    assert.equal((await daemon.runOnce()).pruned, 4);
    assert.deepEqual(await ids(), [old.started, recent.success, fresh.skipped].sort());

    assert.equal((await daemon.runOnce()).pruned, 0, 'not again within the prune interval');
    clock.now += 23 * DAY;
    assert.equal((await daemon.runOnce()).pruned, 2, 'the SUCCESS tick now 31 days old, the SKIPPED one 23');
    assert.deepEqual(await ids(), [old.started], 'a tick still evaluating stays, 56 days on');
  });
});
