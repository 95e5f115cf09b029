// What a schedule or sensor evaluation returns is user code's answer: its run requests are held
// to the limits a launch is (run config and tags, JSON depth), plus a bounded run key and count
// and a job of the location, before any run is made. A tick past one fails naming it, makes no
// run, and the next tick fires. On SQLite and PostgreSQL (whose unique index on a run's dedupe
// key refuses a key past ~2.7 KB: the tick's completion failed as INTERNAL, retried forever,
// and the sensor never ticked again).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Daemon } from '../../../src/control-plane/daemon/daemon.js';
import { DEFAULT_API_LIMITS, FIXED_INPUT_LIMITS } from '../../../src/control-plane/limits.js';
import { setSensorState } from '../../../src/control-plane/services/instigators-service.js';
import { claimWork, completeWork } from '../../../src/control-plane/services/work-service.js';
import { listTicks } from '../../../src/control-plane/store/instigators.js';
import { Store } from '../../../src/control-plane/store/store.js';
import type { RunRequest } from '../../../src/shared/work-items.js';
import { createLogger } from '../../../src/shared/logger.js';
import { loadedInStore } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

const L = FIXED_INPUT_LIMITS;

describeEachDialect('tick run requests', (target) => {
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

  /** One sensor tick answered with `runRequests`: its tick, and the runs in the store. */
  async function tickWith(runRequests: Array<Partial<RunRequest>>) {
    clock.now += 60_000;
    assert.deepEqual((await daemon.runOnce()).sensorsFired, ['hello/files']);
    const items = await claimWork(store, { agentId: 'A', limit: 10, waitMs: 0 });
    const item = items.find((i) => i.kind === 'EVALUATE_SENSOR')!;
    const before = await store.db.selectFrom('runs').select('id').execute();
    await completeWork(store, 'A', item.id, { runRequests, cursor: `c${clock.now}` });
    const [tick] = await listTicks(store, 'hello', 'SENSOR', 'files', 1);
    const made = (await store.db.selectFrom('runs').select('id').execute()).length - before.length;
    return { tick: tick!, made };
  }

  const refusals: Array<[string, () => Array<Partial<RunRequest>>, RegExp]> = [
    // Incompressible, past PostgreSQL's index row limit (2704 bytes).
    ['a run key', () => [{ job: 'hello', runKey: randomBytes(2048).toString('hex') }], /maxRunKeyBytes/],
    [
      'the count',
      () => Array.from({ length: L.maxRunRequestsPerTick + 1 }, (_, i) => ({ job: 'hello', runKey: `k${i}` })),
      /maxRunRequestsPerTick/,
    ],
    [
      'a run config',
      () => [{ job: 'hello', runConfig: { x: 'y'.repeat(DEFAULT_API_LIMITS.maxRunConfigBytes) } }],
      /maxRunConfigBytes/,
    ],
    [
      'the tags',
      () => [{ job: 'hello', tags: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`t${i}`, 'v'])) }],
      /maxRunTags/,
    ],
    ['a job the location lacks', () => [{ job: randomBytes(2048).toString('hex') }], /OUTPOST_ERR_UNKNOWN_JOB/],
  ];

  for (const [what, requests, limit] of refusals) {
    test(`a tick whose run requests pass ${what} fails naming it, makes no run; the next tick fires`, async () => {
      const { tick, made } = await tickWith(requests());
      assert.equal(tick.status, 'FAILURE');
      assert.match(tick.error ?? '', limit);
      assert.equal(made, 0);
      assert.deepEqual(tick.runIds, []);
      const next = await tickWith([{ job: 'hello', runKey: `ok-${clock.now}` }]);
      assert.equal(next.tick.status, 'SUCCESS');
      assert.equal(next.made, 1);
    });
  }

  test('the failed tick leaves the cursor where it was', async () => {
    const before = (await store.db.selectFrom('instigators').select('cursor').where('name', '=', 'files').execute())[0];
    await tickWith([{ job: 'hello', runKey: 'x'.repeat(L.maxRunKeyBytes + 1) }]);
    const after = (await store.db.selectFrom('instigators').select('cursor').where('name', '=', 'files').execute())[0];
    assert.equal(after?.cursor, before?.cursor);
  });
});
