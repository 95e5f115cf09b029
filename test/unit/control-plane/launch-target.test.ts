// Which job an asset launch runs: the implicit asset job, or with a partition key a partitioned
// job that materializes the assets (Dagster's implicit job has no partition set when the
// location's assets are partitioned differently).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutpostError } from '../../../src/shared/errors.js';
import type { LocationSnapshot } from '../../../src/shared/location-snapshot.js';
import { requestedAssets, resolveLaunchJob } from '../../../src/control-plane/services/launch-target.js';

const job = (name: string, partitions?: string): LocationSnapshot['jobs'][number] => ({
  name,
  description: '',
  tags: {},
  configSchema: {},
  ops: [],
  ...(partitions ? { partitions } : {}),
});
const snapshot: LocationSnapshot = {
  kind: 'dagster',
  jobs: [job('__ASSET_JOB'), job('daily_job', 'daily_job_partition_set'), job('shop_job')],
  schedules: [],
  sensors: [],
  partitions: [{ name: 'daily_job_partition_set', kind: 'timeWindow', cron: '0 0 * * *' }],
  assets: [
    { key: 'daily_thing', description: '', deps: [], jobNames: ['__ASSET_JOB', 'daily_job'] },
    { key: 'customers', description: '', deps: [], jobNames: ['__ASSET_JOB', 'shop_job'] },
  ],
};

test('without a partition key the implicit asset job materializes the selection', () => {
  assert.equal(resolveLaunchJob(snapshot, 'shop', undefined, ['daily_thing']), '__ASSET_JOB');
});

test('with a partition key, the partitioned job that materializes the selection', () => {
  assert.equal(resolveLaunchJob(snapshot, 'shop', undefined, ['daily_thing'], '2026-11-24'), 'daily_job');
});

test('with a partition key and no partitioned job for the selection: refused, saying what to define', () => {
  assert.throws(
    () => resolveLaunchJob(snapshot, 'shop', undefined, ['customers'], 'red'),
    (err: unknown) =>
      err instanceof OutpostError &&
      err.code === 'OUTPOST_ERR_UNKNOWN_PARTITION' &&
      /no partitioned job of shop materializes all of "customers" \(jobs: __ASSET_JOB, shop_job\); define one/.test(
        err.message,
      ),
  );
});

test("a run request's asset selection: deduplicated; empty or all of the job's assets is the whole job; others refused", () => {
  assert.deepEqual(requestedAssets(snapshot, 'shop', '__ASSET_JOB', ['customers', 'customers']), ['customers']);
  assert.equal(requestedAssets(snapshot, 'shop', '__ASSET_JOB', []), undefined);
  assert.equal(requestedAssets(snapshot, 'shop', '__ASSET_JOB', ['customers', 'daily_thing']), undefined);
  assert.equal(requestedAssets(snapshot, 'shop', 'shop_job', ['customers']), undefined, "shop_job's only asset");
  assert.throws(
    () => requestedAssets(snapshot, 'shop', 'shop_job', ['daily_thing']),
    (e: unknown) =>
      e instanceof OutpostError &&
      e.errorName === 'INVALID_ARGUMENT' &&
      /job shop_job does not materialize "daily_thing"/.test(e.message),
  );
  assert.throws(
    () => requestedAssets(snapshot, 'shop', 'shop_job', ['figs']),
    (e: unknown) => e instanceof OutpostError && e.errorName === 'UNKNOWN_ASSET',
  );
});
