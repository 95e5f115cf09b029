// Time-window partition keys: windows in the right zone, only ended windows, each cadence.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isOutpostError } from '../../../src/shared/errors.js';
import { partitionKeys, staticPartitions, timeWindowPartitions } from '../../../src/user-code/sdk/partitions.js';

describe('partitions', () => {
  test('static keys come back in order', () => {
    assert.deepEqual(partitionKeys(staticPartitions({ name: 's', keys: ['b', 'a'] }), 0), ['b', 'a']);
  });

  test('daily windows appear once they have ended', () => {
    const daily = timeWindowPartitions({ name: 'd', start: '2024-02-27', cadence: 'daily' });
    assert.deepEqual(partitionKeys(daily, Date.UTC(2024, 1, 27, 23, 59)), []);
    assert.deepEqual(partitionKeys(daily, Date.UTC(2024, 2, 1)), ['2024-02-27', '2024-02-28', '2024-02-29']);
  });

  test('daily windows follow the time zone, across a DST change', () => {
    const paris = timeWindowPartitions({ name: 'p', start: '2024-03-30', cadence: 'daily', timezone: 'Europe/Paris' });
    // 2024-03-31 is 23 hours long in Paris; its window ends at 2024-03-31T22:00Z.
    assert.deepEqual(partitionKeys(paris, Date.UTC(2024, 2, 31, 21, 59)), ['2024-03-30']);
    assert.deepEqual(partitionKeys(paris, Date.UTC(2024, 2, 31, 22, 0)), ['2024-03-30', '2024-03-31']);
  });

  test('hourly, weekly and monthly cadences, and custom formats', () => {
    const hourly = timeWindowPartitions({ name: 'h', start: '2024-01-01T22:00', cadence: 'hourly' });
    assert.deepEqual(partitionKeys(hourly, Date.UTC(2024, 0, 2, 0, 30)), ['2024-01-01-22:00', '2024-01-01-23:00']);
    const weekly = timeWindowPartitions({ name: 'w', start: '2024-01-01', cadence: 'weekly' });
    // Weeks start on Sunday: the first full week after Monday 2024-01-01 starts 2024-01-07.
    assert.deepEqual(partitionKeys(weekly, Date.UTC(2024, 0, 21)), ['2024-01-07', '2024-01-14']);
    const monthly = timeWindowPartitions({ name: 'm', start: '2023-11-01', cadence: 'monthly', format: 'yyyy/MM' });
    assert.deepEqual(partitionKeys(monthly, Date.UTC(2024, 1, 15)), ['2023/11', '2023/12', '2024/01']);
  });

  test('bad starts and zones fail at definition time', () => {
    assert.throws(
      () => timeWindowPartitions({ name: 'x', start: 'yesterday', cadence: 'daily' }),
      (e: unknown) => isOutpostError(e, 'INVALID_ARGUMENT') && /start "yesterday"/.test(e.message),
    );
    assert.throws(
      () => timeWindowPartitions({ name: 'x', start: '2024-01-01', cadence: 'daily', timezone: 'Mars/Olympus' }),
      (e: unknown) => isOutpostError(e, 'INVALID_ARGUMENT') && /time zone "Mars\/Olympus"/.test(e.message),
    );
  });
});
