// A key's membership in a Dagster set, decided from the snapshot without listing the set. The
// verdicts are those of Dagster 1.13.29 on the same definitions at NOW (checked with its
// `has_partition_key` under `partition_loading_context(effective_dt=NOW)`), with one exception:
// Dagster's has_partition_key admits "2020-01-01-05:30" for an hourly set (it parses into the
// range), though `get_partition_keys` never lists it; Outpost keeps to the keys Dagster lists,
// as it did when it checked against the listing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keyInSet } from '../../../../src/agent/dagster/partition-membership.js';
import type { PartitionsSnapshot } from '../../../../src/shared/location-snapshot.js';

const NOW = Date.UTC(2026, 10, 30, 11, 24); // 2026-11-30T11:24Z
const hourly: PartitionsSnapshot = {
  name: 'hourly_job_partition_set',
  kind: 'timeWindow',
  start: '2015-01-01T00:00:00.000Z',
  cron: '0 * * * *',
  timezone: 'UTC',
  format: '%Y-%m-%d-%H:%M',
};

describe('keyInSet (Dagster sets, from the snapshot)', () => {
  test('hourly since 2015: first, last ended window in; the running window, the future, before start, off-tick, misformatted out', () => {
    assert.deepEqual(keyInSet(hourly, '2015-01-01-00:00', NOW), { in: true });
    assert.deepEqual(keyInSet(hourly, '2020-01-01-05:00', NOW), { in: true });
    assert.deepEqual(keyInSet(hourly, '2026-11-30-10:00', NOW), { in: true }, 'the last window that ended');
    for (const key of [
      '2026-11-30-11:00',
      '2999-01-01-00:00',
      '2014-12-31-23:00',
      '2020-01-01-05:30',
      'garbage',
      '2020-1-1-05:00',
      '2020-02-30-00:00',
    ]) {
      const r = keyInSet(hourly, key, NOW);
      assert.equal(r.in, false, key);
      assert.match((r as { hint: string }).hint, /keys 2015-01-01-00:00 to 2026-11-30-10:00/, key);
    }
    const off = keyInSet(hourly, '2020-01-01-05:30', NOW) as { hint: string };
    assert.match(off.hint, /nearest: 2020-01-01-05:00, 2020-01-01-06:00/);
    assert.match((keyInSet(hourly, '2999-01-01-00:00', NOW) as { hint: string }).hint, /nearest: 2026-11-30-10:00$/);
    assert.match((keyInSet(hourly, 'garbage', NOW) as { hint: string }).hint, /not in that format/);
  });

  test('an end offset of 1 admits the running window, no later', () => {
    const set = { ...hourly, endOffset: 1 };
    assert.deepEqual(keyInSet(set, '2026-11-30-11:00', NOW), { in: true });
    assert.equal(keyInSet(set, '2026-11-30-12:00', NOW).in, false);
  });

  test('daily in a DST zone: the wall-clock midnight of each day, across the change', () => {
    const set: PartitionsSnapshot = {
      name: 'd',
      kind: 'timeWindow',
      start: '2026-03-01T08:00:00.000Z', // midnight in Los Angeles (PST)
      cron: '0 0 * * *',
      timezone: 'America/Los_Angeles',
      format: '%Y-%m-%d',
    };
    for (const key of ['2026-03-01', '2026-03-08', '2026-03-09', '2026-11-01', '2026-11-02', '2026-11-28']) {
      assert.deepEqual(keyInSet(set, key, NOW), { in: true }, key);
    }
    // 11:24Z is 03:24 in Los Angeles: the 30th has begun, the 29th is the last that ended.
    assert.deepEqual(keyInSet(set, '2026-11-29', NOW), { in: true });
    assert.equal(keyInSet(set, '2026-11-30', NOW).in, false);
    assert.equal(keyInSet(set, '2026-02-28', NOW).in, false);
  });

  test('multi: each dimension in the snapshot order (Dagster sorts them by name); swapped parts are refused naming the dimension', () => {
    const set: PartitionsSnapshot = {
      name: 'm',
      kind: 'multi',
      dimensions: [
        { name: 'color', kind: 'static', keys: ['red', 'blue'] },
        { ...hourly, name: 'hour', kind: 'timeWindow' },
      ],
    };
    assert.deepEqual(keyInSet(set, 'red|2020-01-01-05:00', NOW), { in: true });
    const swapped = keyInSet(set, '2020-01-01-05:00|red', NOW) as { in: false; hint: string };
    assert.equal(swapped.in, false);
    assert.match(swapped.hint, /dimension color/);
    assert.match((keyInSet(set, 'green|2020-01-01-05:00', NOW) as { hint: string }).hint, /dimension color .*nearest/);
    assert.match((keyInSet(set, 'red', NOW) as { hint: string }).hint, /2 dimensions joined with "\|" \(color\|hour\)/);
  });

  test('dynamic sets and dimensions are named as such; undecidable windows are left to a listing', () => {
    assert.deepEqual(keyInSet({ name: 't', kind: 'dynamic' }, 'acme', NOW), { in: 'dynamic' });
    const multi: PartitionsSnapshot = {
      name: 'm',
      kind: 'multi',
      dimensions: [
        { name: 'color', kind: 'static', keys: ['red'] },
        { name: 'tenant', kind: 'dynamic' },
      ],
    };
    assert.deepEqual(keyInSet(multi, 'red|acme', NOW), { in: 'dynamic', dimension: 'tenant' });
    for (const set of [
      { ...hourly, format: '%Y%j' },
      { ...hourly, exclusions: 2 },
      { ...hourly, end: '2020-01-01T00:00:00.000Z' },
      { ...hourly, endOffset: -1 },
      { ...hourly, cron: undefined },
    ]) {
      assert.deepEqual(keyInSet(set, '2020-01-01-05:00', NOW), { in: 'list' }, JSON.stringify(set));
    }
  });

  test('static: listed keys; a refusal names the count, the range and the nearest', () => {
    const set: PartitionsSnapshot = { name: 's', kind: 'static', keys: ['eu', 'us', 'apac'] };
    assert.deepEqual(keyInSet(set, 'us', NOW), { in: true });
    assert.deepEqual(keyInSet(set, 'mars', NOW), { in: false, hint: '3 keys, apac to us; nearest: apac, eu, us' });
  });

  test("a kind this Outpost does not know (a later Dagster's) is decided by listing the set, not refused as dynamic", () => {
    const other: PartitionsSnapshot = {
      name: 'o',
      kind: 'other',
      dagsterClass: 'ExternalFuturePartitionsDefinitionData',
    };
    assert.deepEqual(keyInSet(other, 'k1', NOW), { in: 'list' });
    const multi: PartitionsSnapshot = {
      name: 'm',
      kind: 'multi',
      dimensions: [
        { name: 'color', kind: 'static', keys: ['red', 'blue'] },
        { name: 'future', kind: 'other', dagsterClass: 'ExternalFuturePartitionsDefinitionData' },
      ],
    };
    assert.deepEqual(keyInSet(multi, 'red|x', NOW), { in: 'list' });
    assert.equal(keyInSet(multi, 'green|x', NOW).in, false, 'a known dimension still refuses its own keys');
  });
});
