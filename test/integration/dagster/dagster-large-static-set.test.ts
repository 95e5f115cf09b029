// A real Dagster location whose job is partitioned by 100,000 static keys
// (test/fixtures/dagster/locations/big_static.py): the control plane stores and serves the set's
// first MAX_SNAPSHOT_PARTITION_KEYS keys and its count, a key past them launches and runs, and
// the web UI's job page asks for a bounded answer. Prints what it measured (bytes, CPU).
//
// Before the bound (main at aad79cb, 18:45 UTC, load ~4): the stored snapshot was ~1.4 MB and
// the web UI's job query answered it all.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../../support/stack.js';

const python = process.env.OUTPOST_TEST_DAGSTER_PYTHON;
const temporalAddress = process.env.OUTPOST_TEST_TEMPORAL_ADDRESS;
const skip = !python
  ? (process.env.OUTPOST_TEST_DAGSTER_SKIP_REASON ??
    'OUTPOST_TEST_DAGSTER_PYTHON is not set: run through scripts/run-tests.ts')
  : !temporalAddress
    ? 'OUTPOST_TEST_TEMPORAL_ADDRESS is not set: run through scripts/run-tests.ts'
    : false;
if (skip) console.log(`# skipping the Dagster large static set tests: ${skip}`);

const LOC = 'shards';
/** What the web UI's job page asks (src/control-plane/web/assets/queries.js JOB), partition fields included. */
const JOB_PAGE = `query($name: String!) { codeLocation(name: $name) { name jobs { name partitions } partitions { name kind keys } } }`;
/** Far above 1,000 keys and the rest of this location's snapshot; far below 100,000 keys. */
const BOUNDED = 64 * 1024;

describe('a Dagster static partition set of 100,000 keys', { skip, timeout: 300_000 }, () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ temporalAddress: temporalAddress!, storeLimits: { locationQueryWaitMs: 60_000 } });
    await s.startAgent();
    await s.deployDagster(LOC, {
      python: python!,
      pythonFile: 'big_static.py',
      workingDirectory: resolve('test/fixtures/dagster/locations'),
    });
  });
  after(() => s?.close());

  test('the stored snapshot and the job page are bounded; a key past the listed ones launches and runs', async () => {
    const row = await s.cp.store.db
      .selectFrom('code_locations')
      .select('snapshot')
      .where('name', '=', LOC)
      .executeTakeFirstOrThrow();
    const stored = String(row.snapshot).length;
    const page = JSON.stringify(await s.gql(JOB_PAGE, { name: LOC })).length;
    const cpu = process.cpuUsage();
    const { launchRun: run } = await s.gql<{ launchRun: { id: string; tags: Record<string, string> } }>(
      `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id tags } }`,
      { i: { location: LOC, job: 'shard_job', partitionKey: 'k099999' } },
    );
    const used = process.cpuUsage(cpu);
    console.log(
      `# measured: stored snapshot ${stored} B, job page answer ${page} B, launchRun CPU of this process (control plane in-process) ${((used.user + used.system) / 1000).toFixed(0)} ms`,
    );
    assert.ok(stored < BOUNDED, `stored snapshot ${stored} B`);
    assert.ok(page < BOUNDED, `job page answer ${page} B`);
    assert.equal(run.tags['dagster/partition'] ?? run.tags['outpost/partition'], 'k099999');
    const done = await s.waitRun(run.id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(done.status, 'SUCCESS', JSON.stringify(done.events.filter((e) => e.error)));
    const outside = s.gql(`mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }`, {
      i: { location: LOC, job: 'shard_job', partitionKey: 'k100000' },
    });
    await assert.rejects(outside, /UNKNOWN_PARTITION|not in/);
  });
});
