// Partition keys are checked against the job's set from the snapshot alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkKeyIn, checkPartitionKey } from '../../../src/control-plane/core/partition-key.js';
import type { JobSnapshot } from '../../../src/shared/location-snapshot.js';

const job = (partitions?: string): JobSnapshot => ({
  name: 'greet_region',
  description: '',
  tags: {},
  configSchema: {},
  ops: [],
  ...(partitions ? { partitions } : {}),
});
const sets = [
  { name: 'regions', kind: 'static' as const, keys: ['eu', 'us', 'apac'] },
  {
    name: 'days',
    kind: 'timeWindow' as const,
    start: '2026-01-01',
    cadence: 'daily',
    timezone: 'UTC',
    format: 'yyyy-MM-dd',
  },
];
const now = Date.UTC(2026, 0, 4, 12);

test('a key in the static set passes; one outside it (mars) is refused, naming the set', () => {
  assert.deepEqual(checkPartitionKey(job('regions'), sets, 'eu', now), { ok: true });
  const r = checkPartitionKey(job('regions'), sets, 'mars', now);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.detail : '', /"mars" is not in regions \(keys: eu, us, apac\)/);
});

test('a partitioned job needs a key; an unpartitioned job takes none', () => {
  assert.equal(checkPartitionKey(job('regions'), sets, undefined, now).ok, false);
  assert.deepEqual(checkPartitionKey(job(), sets, undefined, now), { ok: true });
  assert.equal(checkPartitionKey(job(), sets, 'eu', now).ok, false);
});

test('time windows: only ended windows are keys', () => {
  assert.deepEqual(checkPartitionKey(job('days'), sets, '2026-01-03', now), { ok: true });
  assert.equal(checkPartitionKey(job('days'), sets, '2026-01-04', now).ok, false, 'today has not ended');
  assert.equal(checkPartitionKey(job('days'), sets, '2025-12-31', now).ok, false, 'before the start');
});

test("Dagster sets the snapshot cannot enumerate (time window by cron, multi, dynamic): a key is the agent's to check; none is refused, the set described, never listed", () => {
  const dagsterSets = [
    {
      name: 'daily_job_partition_set',
      kind: 'timeWindow' as const,
      start: '2026-01-01T00:00:00.000Z',
      cron: '0 0 * * *',
      timezone: 'UTC',
      format: '%Y-%m-%d',
    },
    {
      name: 'multi_job_partition_set',
      kind: 'multi' as const,
      dimensions: [{ name: 'color', kind: 'static', keys: ['red'] }],
    },
    { name: 'customer_job_partition_set', kind: 'dynamic' as const },
  ];
  for (const set of dagsterSets) {
    assert.deepEqual(checkPartitionKey(job(set.name), dagsterSets, '2026-01-02', now), {
      ok: 'askLocation',
      set: set.name,
    });
    const none = checkPartitionKey(job(set.name), dagsterSets, undefined, now);
    assert.equal(none.ok, false, set.name);
  }
  const detail = (name: string): string => {
    const r = checkPartitionKey(job(name), dagsterSets, undefined, now);
    return r.ok === false ? r.detail : '';
  };
  assert.match(
    detail('daily_job_partition_set'),
    /name a partition key \(time windows by cron "0 0 \* \* \*" in UTC from 2026-01-01T00:00:00.000Z, keys in strftime %Y-%m-%d\)/,
  );
  assert.match(detail('multi_job_partition_set'), /multi-partitions, keys joined with "\|": color: keys: red/);
  assert.match(detail('customer_job_partition_set'), /dynamic partitions/);
  assert.deepEqual(checkKeyIn('daily_job', 'daily_job_partition_set', ['2026-01-01', '2026-01-02'], '2026-01-02'), {
    ok: true,
  });
});
