// A sensor Outpost cannot evaluate (Dagster's declarative automation sensor: `unsupported` in
// its snapshot) may be stored RUNNING from before starting one was refused, or be RUNNING by its
// default status. The daemon stops it once, with one SKIPPED tick saying why (coded), instead of
// an evaluation that fails every interval for ever; it still reads as unsupported. On SQLite and
// PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Daemon } from '../../../src/control-plane/daemon/daemon.js';
import { sensorsOf, setSensorState } from '../../../src/control-plane/services/instigators-service.js';
import { listTicks, updateInstigator } from '../../../src/control-plane/store/instigators.js';
import { requireLocation } from '../../../src/control-plane/store/locations.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import type { LocationSnapshot } from '../../../src/shared/location-snapshot.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SNAPSHOT, loadedInStore } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

const WHY = "sensor auto is Dagster's declarative automation (AutomationCondition): Outpost does not run that daemon";

const WITH_AUTOMATION: LocationSnapshot = {
  ...SNAPSHOT,
  schedules: [],
  sensors: [
    { name: 'files', job: 'hello', minIntervalSeconds: 30, defaultStatus: 'STOPPED', description: '' },
    // Stored RUNNING (below), as one started before starting it was refused.
    { name: 'auto', job: '', minIntervalSeconds: 30, defaultStatus: 'STOPPED', description: '', unsupported: WHY },
    // RUNNING by its default status (Dagster's default_status), no stored state.
    {
      name: 'auto_default',
      job: '',
      minIntervalSeconds: 30,
      defaultStatus: 'RUNNING',
      description: '',
      unsupported: WHY,
    },
  ],
};

describeEachDialect('daemon: an unsupported sensor found RUNNING', (target) => {
  let store: Store;
  const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 30) };
  const logged: Array<{ msg: string; code?: string; location?: string; name?: string; level: string }> = [];
  let daemon: Daemon;

  before(async () => {
    store = await Store.open({ url: await target.freshUrl(), clock: () => clock.now });
    const logger = createLogger({ name: 'test', level: 'silent' });
    // What the daemon logs, as objects (the logger itself is silent).
    const capture = Object.create(logger) as typeof logger;
    for (const level of ['warn', 'error'] as const) {
      capture[level] = ((obj: Record<string, string>, msg: string) => {
        logged.push({ ...obj, msg, level });
      }) as typeof logger.warn;
    }
    daemon = new Daemon(store, capture);
    await loadedInStore(store, 'hello', WITH_AUTOMATION);
    await updateInstigator(store.db, store, { location: 'hello', kind: 'SENSOR', name: 'auto' }, { state: 'RUNNING' });
    await setSensorState(store, 'hello', 'files', 'RUNNING');
  });
  after(async () => {
    await store.close();
  });

  const evaluations = async (sensor: string) =>
    (await store.db.selectFrom('work_items').select('payload').where('kind', '=', 'EVALUATE_SENSOR').execute()).filter(
      (w) => (JSON.parse(w.payload) as { sensor: string }).sensor === sensor,
    ).length;

  test('stopped once, one coded SKIPPED tick saying why; no evaluation, no failing tick, on any later pass', async () => {
    const first = await daemon.runOnce();
    assert.deepEqual(first.sensorsFired, ['hello/files'], 'a supported sensor goes on ticking');
    assert.deepEqual(first.instigatorsFailed, []);
    assert.deepEqual(first.sensorsStopped, ['hello/auto', 'hello/auto_default']);
    for (let i = 0; i < 3; i++) {
      clock.now += 60_000;
      const later = await daemon.runOnce();
      assert.deepEqual(later.sensorsStopped, []);
      assert.ok(!later.sensorsFired.some((k) => k.startsWith('hello/auto')), JSON.stringify(later));
    }
    for (const name of ['auto', 'auto_default']) {
      assert.equal(await evaluations(name), 0, `${name}: no EVALUATE_SENSOR`);
      const ticks = await listTicks(store, 'hello', 'SENSOR', name, 10);
      assert.equal(ticks.length, 1, JSON.stringify(ticks));
      assert.equal(ticks[0]!.status, 'SKIPPED');
      assert.equal(ticks[0]!.error, null);
      assert.ok(
        ticks[0]!.skipReason?.startsWith(`OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE: ${WHY}`),
        ticks[0]!.skipReason!,
      );
      assert.match(ticks[0]!.skipReason!, /stopped/);
      const said = logged.filter((l) => l.name === name);
      assert.equal(said.length, 1, JSON.stringify(logged));
      assert.equal(said[0]!.level, 'warn');
      assert.equal(said[0]!.code, 'OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE');
    }
  });

  test('it reads as STOPPED and unsupported; starting it is still refused, saying why', async () => {
    const views = await sensorsOf(store, await requireLocation(store.db, 'hello'));
    assert.deepEqual(
      views.map((v) => [v.name, v.state, v.unsupported ?? null]),
      [
        ['files', 'RUNNING', null],
        ['auto', 'STOPPED', WHY],
        ['auto_default', 'STOPPED', WHY],
      ],
    );
    await assert.rejects(setSensorState(store, 'hello', 'auto', 'RUNNING'), (err) =>
      isOutpostError(err, 'UNSUPPORTED_DAGSTER_FEATURE'),
    );
  });
});
