// One schedule or sensor whose tick cannot be stored (its location's definitions are hostile or
// broken) must not stop the daemon's pass for everything else: other locations' ticks, the
// STARTING timeout and retention. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Daemon } from '../../../src/control-plane/daemon/daemon.js';
import { setSensorState } from '../../../src/control-plane/services/instigators-service.js';
import { createRun, reportRunLaunched } from '../../../src/control-plane/services/runs-service.js';
import { claimWork } from '../../../src/control-plane/services/work-service.js';
import { getRun } from '../../../src/control-plane/store/runs.js';
import { Store } from '../../../src/control-plane/store/store.js';
import type { LocationSnapshot } from '../../../src/shared/location-snapshot.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SNAPSHOT, loadedInStore } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

/**
 * A sensor whose tick time is not a number: its interval (1e306 s) is Infinity in ms, and
 * 0 x Infinity is NaN, which neither database takes as a tick time. Written straight into the
 * stored snapshot, so the test does not depend on what a report would let through.
 */
const BROKEN: LocationSnapshot = {
  jobs: SNAPSHOT.jobs,
  schedules: [],
  sensors: [{ name: 'broken', job: 'hello', minIntervalSeconds: 1e306, defaultStatus: 'RUNNING', description: '' }],
  partitions: [],
};

describeEachDialect('daemon isolation', (target) => {
  let store: Store;
  const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 30) };
  const logged: Array<{ msg: string; location?: string; name?: string }> = [];
  let daemon: Daemon;

  before(async () => {
    store = await Store.open({ url: await target.freshUrl(), clock: () => clock.now });
    const logger = createLogger({ name: 'test', level: 'silent' });
    // What the daemon logs, as objects (the logger itself is silent).
    const capture = Object.create(logger) as typeof logger;
    capture.error = ((obj: { location?: string; name?: string }, msg: string) => {
      logged.push({ ...obj, msg });
    }) as typeof logger.error;
    daemon = new Daemon(store, capture, { startingTimeoutMs: 60_000 });
    // 'a0' sorts first: before the fix its failure ended the pass before 'hello' was looked at.
    for (const [name, snapshot] of [
      ['a0', BROKEN],
      ['hello', SNAPSHOT],
    ] as const) {
      await loadedInStore(store, name, snapshot);
    }
    await store.db
      .updateTable('code_locations')
      .set({ snapshot: JSON.stringify(BROKEN) })
      .where('name', '=', 'a0')
      .execute();
  });
  after(async () => {
    await store.close();
  });

  test("a sensor whose tick cannot be stored fails alone: other locations' sensors fire, STARTING runs time out", async () => {
    await setSensorState(store, 'hello', 'files', 'RUNNING');
    const { run } = await store.transaction((trx) =>
      createRun(trx, store, { location: 'hello', job: 'hello', runConfig: {}, tags: {} }),
    );
    // Only the agent that claimed the launch may report it launched.
    await claimWork(store, { agentId: 'A', limit: 10, waitMs: 0 });
    await reportRunLaunched(store, 'A', run.id, {});
    clock.now += 120_000;
    const report = await daemon.runOnce();
    assert.deepEqual(report.sensorsFired, ['hello/files']);
    assert.deepEqual(report.runsTimedOut, [run.id]);
    assert.equal((await getRun(store.db, run.id))?.status, 'FAILURE');
    assert.deepEqual(report.instigatorsFailed, ['a0/broken']);
    const failures = logged.filter((l) => l.msg.includes('tick could not be started'));
    assert.deepEqual(
      failures.map((l) => [l.location, l.name]),
      [['a0', 'broken']],
    );
    // The same failure again is not logged again (the pass runs every 2 s).
    clock.now += 60_000;
    assert.deepEqual((await daemon.runOnce()).instigatorsFailed, ['a0/broken']);
    assert.equal(logged.filter((l) => l.msg.includes('tick could not be started')).length, 1);
  });
});
