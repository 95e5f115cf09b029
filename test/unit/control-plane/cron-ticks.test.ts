// latestDueTick: the missed-tick policy's pure core (the latest cron time in (after, now]),
// including time zones and downtimes long enough to need the widening search.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { latestDueTick } from '../../../src/control-plane/daemon/cron-ticks.js';

const utc = (iso: string) => Date.parse(iso);

test('no tick due: undefined; one due: it; many missed: only the latest', () => {
  assert.equal(
    latestDueTick('*/5 * * * *', 'UTC', utc('2026-01-01T12:00:00Z'), utc('2026-01-01T12:04:59Z')),
    undefined,
  );
  assert.equal(
    latestDueTick('*/5 * * * *', 'UTC', utc('2026-01-01T12:00:00Z'), utc('2026-01-01T12:05:00Z')),
    utc('2026-01-01T12:05:00Z'),
  );
  assert.equal(
    latestDueTick('*/5 * * * *', 'UTC', utc('2026-01-01T12:00:00Z'), utc('2026-01-01T13:07:00Z')),
    utc('2026-01-01T13:05:00Z'),
  );
});

test('the schedule time zone decides the tick', () => {
  // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
  assert.equal(
    latestDueTick('0 9 * * *', 'Europe/Paris', utc('2026-01-10T00:00:00Z'), utc('2026-01-10T12:00:00Z')),
    utc('2026-01-10T08:00:00Z'),
  );
  assert.equal(
    latestDueTick('0 9 * * *', 'Europe/Paris', utc('2026-07-10T00:00:00Z'), utc('2026-07-10T12:00:00Z')),
    utc('2026-07-10T07:00:00Z'),
  );
});

test('a long downtime costs few steps and still finds the latest tick', () => {
  const t = latestDueTick('* * * * *', 'UTC', utc('2025-01-01T00:00:00Z'), utc('2026-03-01T10:30:30Z'));
  assert.equal(t, utc('2026-03-01T10:30:00Z'));
  const yearly = latestDueTick('0 0 1 1 *', 'UTC', utc('2020-06-01T00:00:00Z'), utc('2026-03-01T00:00:00Z'));
  assert.equal(yearly, utc('2026-01-01T00:00:00Z'));
});
