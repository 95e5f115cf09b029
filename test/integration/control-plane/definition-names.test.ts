// A location's job, schedule and sensor names are user code's, and become keys the store
// indexes (a tick's dedupe key, a run's job, an instigator's row). A name past
// maxDefinitionNameLength makes the location ERROR naming the limit when its snapshot is
// reported, instead of LOADED with definitions PostgreSQL cannot index (~2.7 KB an entry): a
// 4 KB job name failed every launch and every tick's completion as INTERNAL. SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { FIXED_INPUT_LIMITS } from '../../../src/control-plane/limits.js';
import { deployCodeLocation } from '../../../src/control-plane/services/locations-service.js';
import { getLocation, reportCodeLocation } from '../../../src/control-plane/store/locations.js';
import { Store } from '../../../src/control-plane/store/store.js';
import type { LocationSnapshot } from '../../../src/shared/location-snapshot.js';
import { SNAPSHOT } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

const L = FIXED_INPUT_LIMITS;
/** Incompressible, so PostgreSQL cannot squeeze it under its index entry limit. */
const longName = () => `n${randomBytes(2048).toString('hex')}`;

const withJob = (name: string): LocationSnapshot => ({
  ...SNAPSHOT,
  jobs: [{ ...SNAPSHOT.jobs[0]!, name }],
  schedules: [],
  sensors: [{ name: 'files', job: name, minIntervalSeconds: 30, defaultStatus: 'STOPPED', description: '' }],
});
const withSensor = (name: string): LocationSnapshot => ({
  ...SNAPSHOT,
  sensors: [{ name, job: 'hello', minIntervalSeconds: 30, defaultStatus: 'RUNNING', description: '' }],
});
const withSchedule = (name: string): LocationSnapshot => ({
  ...SNAPSHOT,
  schedules: [{ ...SNAPSHOT.schedules[0]!, name }],
});

describeEachDialect('definition names', (target) => {
  let store: Store;

  before(async () => {
    store = await Store.open({ url: await target.freshUrl() });
  });
  after(async () => {
    await store.close();
  });

  const cases: Array<[string, (name: string) => LocationSnapshot]> = [
    ['a job', withJob],
    ['a sensor', withSensor],
    ['a schedule', withSchedule],
  ];
  for (const [i, [what, snapshot]] of cases.entries()) {
    test(`${what} named past maxDefinitionNameLength makes the location ERROR naming the limit`, async () => {
      const name = `loc${i}`;
      const { version } = await deployCodeLocation(store, { name, module: 'x.ts' });
      assert.equal(
        await reportCodeLocation(store, { location: name, version, status: 'LOADED', snapshot: snapshot(longName()) }),
        true,
      );
      const loc = await getLocation(store.db, name);
      assert.equal(loc?.status, 'ERROR');
      assert.match(loc?.loadError ?? '', /OUTPOST_ERR_INPUT_TOO_LARGE.*maxDefinitionNameLength/);
      assert.equal(loc?.snapshot, null, 'no definitions stored');
    });
  }

  test('a name at the limit loads', async () => {
    const { version } = await deployCodeLocation(store, { name: 'ok', module: 'x.ts' });
    const name = 'j'.repeat(L.maxDefinitionNameLength);
    await reportCodeLocation(store, { location: 'ok', version, status: 'LOADED', snapshot: withJob(name) });
    const loc = await getLocation(store.db, 'ok');
    assert.equal(loc?.status, 'LOADED');
    assert.equal(loc?.snapshot?.jobs[0]?.name, name);
  });
});
