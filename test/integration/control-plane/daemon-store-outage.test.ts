// A PostgreSQL that stops is no schedule's or sensor's fault: the daemon's pass ends at the first
// call that cannot reach it, the outage is logged once with its code (not once per pass or per
// instigator), passes back off, and ticks resume when the server is back. On a real PostgreSQL
// cluster of this test's own, stopped and started again (the runner's shared one stays up).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Daemon } from '../../../src/control-plane/daemon/daemon.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import type { LocationSnapshot } from '../../../src/shared/location-snapshot.js';
import { capturedLogger } from '../../support/captured-log.js';
import { SNAPSHOT, loadedInStore } from '../../support/control-plane-harness.js';
import { startPostgres, type PgCluster } from '../../support/postgres.js';
import { postgresSkipReason } from '../../support/storage.js';
import { until } from '../../support/wait.js';

/** Three sensors per location, each due every minute. */
const SENSORS: LocationSnapshot = {
  ...SNAPSHOT,
  sensors: ['s1', 's2', 's3'].map((name) => ({
    name,
    job: 'hello',
    minIntervalSeconds: 60,
    defaultStatus: 'RUNNING' as const,
    description: '',
  })),
};

interface Line {
  level: number;
  msg: string;
  code?: string;
  name?: string;
}

describe('daemon on a PostgreSQL that stops and comes back', { skip: postgresSkipReason() }, () => {
  let pg: PgCluster;
  let store: Store;
  const log = capturedLogger('outage', 'debug');
  const lines = (): Line[] => log.lines.map((l) => JSON.parse(l) as Line);
  const errors = (): Line[] => lines().filter((l) => l.level >= 50);
  const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 30), onRead: undefined as (() => void) | undefined };

  before(async () => {
    pg = await startPostgres();
    store = await Store.open({
      url: pg.url,
      logger: log.logger,
      clock: () => {
        clock.onRead?.();
        return clock.now;
      },
    });
    for (const name of ['l1', 'l2']) {
      await loadedInStore(store, name, SENSORS);
    }
  });
  after(async () => {
    await store?.close();
    pg?.stop();
  });

  test('stopped mid-pass: the pass ends at once with POSTGRES_UNAVAILABLE, no instigator is blamed', async () => {
    const daemon = new Daemon(store, log.logger);
    // The first sensor that reads the clock stops the server: leases and the launch reaper have
    // run, six sensors are left to go. (The clock is the daemon's one synchronous call per sensor.)
    let stopped = false;
    clock.onRead = () => {
      if (!stopped && /sensorPass/.test(new Error().stack ?? '')) {
        stopped = true;
        pg.pause();
      }
    };
    try {
      const err: unknown = await daemon.runOnce().then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(stopped, 'the server was stopped during the pass');
      assert.ok(isOutpostError(err, 'POSTGRES_UNAVAILABLE'), `expected POSTGRES_UNAVAILABLE, got ${String(err)}`);
      assert.match(err.hint, /OUTPOST_DATABASE_URL/);
      assert.deepEqual(
        lines()
          .filter((l) => l.msg.includes('tick could not be started'))
          .map((l) => l.name),
        [],
      );
    } finally {
      clock.onRead = undefined;
      if (stopped) pg.restart();
    }
    clock.now += 60_000;
    // The first call after the restart may still meet a connection the server ended: the daemon
    // retries on its own timer; here the test does.
    const report = await until('a pass once the server is back', () => daemon.runOnce(), 30_000, 50);
    assert.equal(report.sensorsFired.length, 6, JSON.stringify(report));
    assert.deepEqual(report.instigatorsFailed, []);
  });

  test('down for many passes: one coded error line, passes back off, sensors tick again once it is back', async () => {
    const daemon = new Daemon(store, log.logger, { intervalMs: 20 });
    const before = log.lines.length;
    const since = (): Line[] => log.lines.slice(before).map((l) => JSON.parse(l) as Line);
    // The last test's evaluations are over (as an agent would report them), so each sensor is due.
    await store.db.updateTable('ticks').set({ status: 'SKIPPED' }).where('status', '=', 'STARTED').execute();
    pg.pause();
    try {
      daemon.start();
      // Each failed pass leaves a debug line; wait for several (the backoff starts at 20 ms).
      await until(
        'four passes against the stopped server',
        () => since().filter((l) => l.level >= 50).length >= 4 || since().filter((l) => l.level === 20).length >= 4,
        30_000,
        20,
      );
      const errorLines = since().filter((l) => l.level >= 50);
      assert.deepEqual(
        errorLines.map((l) => [l.code, l.msg]),
        [['OUTPOST_ERR_POSTGRES_UNAVAILABLE', 'metadata store unavailable; daemon passes back off until it is back']],
      );
    } finally {
      clock.now += 60_000;
      pg.restart();
    }
    await until('the daemon to resume', () => since().some((l) => l.msg.includes('reachable again')), 30_000, 20);
    await daemon.stop();
    const ticks = await store.db
      .selectFrom('ticks')
      .select(['name'])
      .where('kind', '=', 'SENSOR')
      .where('tick_time', '=', clock.now - 30_000)
      .execute();
    assert.equal(ticks.length, 6, 'every sensor ticked once the server was back');
    assert.equal(errors().filter((l) => l.msg === 'daemon pass failed').length, 0);
  });
});
