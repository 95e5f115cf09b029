// /metrics needs no token, and its gauges count every run and work item in the store (65 ms of
// the control plane's event loop per scrape at 500k runs on SQLite, measured): anyone who can
// reach the port could keep it busy with a loop of scrapes. The gauges are read at most once per
// GAUGE_TTL_MS (store clock), however often they are asked; counters stay live. SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GAUGE_TTL_MS } from '../../../src/control-plane/http/metrics.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

describeEachDialect('/metrics scrapes', (target) => {
  let h: Harness;
  before(async () => {
    h = await openHarness(await target.freshUrl());
  });
  after(() => h.close());

  const scrape = async () => (await h.handler(new Request('http://127.0.0.1/metrics'))).text();
  const queued = /outpost_work_items\{status="QUEUED"\} (\d+)/;

  test('a burst of scrapes reads the gauges once per GAUGE_TTL_MS; counters stay live', async () => {
    assert.doesNotMatch(await scrape(), queued, 'nothing queued yet');
    const deployed = await h.gql(
      'user',
      'mutation { deployCodeLocation(input: { name: "m", module: "x.ts" }) { version } }',
    );
    assert.equal(deployed.errors, undefined);
    // A bounded burst within the window: the gauges read before the deploy answer them all.
    const burst = await Promise.all(Array.from({ length: 20 }, scrape));
    for (const text of burst) assert.doesNotMatch(text, queued);
    h.clock.now += GAUGE_TTL_MS;
    const later = await scrape();
    assert.equal(queued.exec(later)?.[1], '1', 'read again once the window has passed');
    // The request counter is live: the first scrape and the burst, each counted.
    assert.match(later, /outpost_http_requests_total\{route="\/metrics",status="200"\} 21\n/);
  });
});
