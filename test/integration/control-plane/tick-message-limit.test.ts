// A tick's skip reason and error are user code's words (a sensor's skipReason, an evaluation's
// exception), kept with every tick and listed 25 a schedule or sensor on the web UI's automation
// page. Each is kept to maxTickMessageLength characters, the cut saying so and naming the limit.
// Before, a sensor returning a 2 MB skip reason every second grew the database by 2 MB/s and,
// after 17 ticks, made the automation page's query past maxResponseBytes for every user.
// SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Daemon } from '../../../src/control-plane/daemon/daemon.js';
import { FIXED_INPUT_LIMITS } from '../../../src/control-plane/limits.js';
import { setSensorState } from '../../../src/control-plane/services/instigators-service.js';
import { claimWork, completeWork, failWork } from '../../../src/control-plane/services/work-service.js';
import { listTicks } from '../../../src/control-plane/store/instigators.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { createLogger } from '../../../src/shared/logger.js';
import { loadedInStore } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

const L = FIXED_INPUT_LIMITS;

describeEachDialect('tick message limit', (target) => {
  let store: Store;
  const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 30) };
  let daemon: Daemon;

  before(async () => {
    store = await Store.open({ url: await target.freshUrl(), clock: () => clock.now });
    daemon = new Daemon(store, createLogger({ name: 'test', level: 'silent' }));
    await loadedInStore(store);
    await setSensorState(store, 'hello', 'files', 'RUNNING');
  });
  after(async () => {
    await store.close();
  });

  async function nextTick() {
    clock.now += 60_000;
    assert.deepEqual((await daemon.runOnce()).sensorsFired, ['hello/files']);
    const items = await claimWork(store, { agentId: 'A', limit: 10, waitMs: 0 });
    return items.find((i) => i.kind === 'EVALUATE_SENSOR')!;
  }
  const latest = async () => (await listTicks(store, 'hello', 'SENSOR', 'files', 1))[0]!;

  test('a skip reason past maxTickMessageLength is cut, the cut naming the limit', async () => {
    const item = await nextTick();
    await completeWork(store, 'A', item.id, { runRequests: [], skipReason: 'x'.repeat(2_000_000) });
    const tick = await latest();
    assert.equal(tick.status, 'SKIPPED');
    assert.ok(tick.skipReason!.length <= L.maxTickMessageLength, `kept ${tick.skipReason!.length} characters`);
    assert.ok(tick.skipReason!.startsWith('x'.repeat(100)));
    assert.match(tick.skipReason!, /maxTickMessageLength/);
    // The count it names is what was cut: kept plus cut is what was sent.
    const kept = /^x*/.exec(tick.skipReason!)![0].length;
    const said = Number(/… (\d+) more characters cut/.exec(tick.skipReason!)?.[1]);
    assert.equal(kept + said, 2_000_000);
  });

  test("an evaluation's error past maxTickMessageLength is cut, the cut naming the limit", async () => {
    const item = await nextTick();
    await failWork(store, 'A', item.id, { code: 'OUTPOST_ERR_USER_CODE_ERROR', message: 'e'.repeat(2_000_000) });
    const tick = await latest();
    assert.equal(tick.status, 'FAILURE');
    assert.ok(tick.error!.length <= L.maxTickMessageLength, `kept ${tick.error!.length} characters`);
    assert.match(tick.error!, /^OUTPOST_ERR_USER_CODE_ERROR: e+/);
    assert.match(tick.error!, /maxTickMessageLength/);
  });

  test('a message within the limit is kept whole', async () => {
    const item = await nextTick();
    const reason = 'r'.repeat(L.maxTickMessageLength);
    await completeWork(store, 'A', item.id, { runRequests: [], skipReason: reason });
    assert.equal((await latest()).skipReason, reason);
  });
});
