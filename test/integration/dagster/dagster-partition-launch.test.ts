// Launching partitions of a real Dagster location (test/fixtures/dagster/locations/partitions.py,
// dagster 1.13.29) through a real control plane, agent and `dagster api grpc`: what one launch
// costs in agent queries and stored bytes, what an unknown key and a dynamic set answer, and
// how far PARTITION_NAMES goes.
//
// Measured on this location before partitionRun (11:23 UTC, load 4): a launch of hourly_job (a
// key among 104,435, one an hour since 2015) made 4 QUERY_CODE_LOCATION items (partitionNames,
// partitionConfig, partitionTags, executionPlan) and stored 1,984,444 bytes of results (the
// whole key list, which Temporal warned was near its 2 MB payload limit), taking 6.6-10.3 s;
// multi_hourly_job (x2 colors) stored 4,908,710 bytes and took 26 s; an unknown key stored the
// 2 MB list to refuse it; tenant_job (dynamic) failed as USER_CODE_ERROR ("The instance is not
// available to load partitions"). Dagster's ExternalPartitionConfig and ExternalPartitionTags
// answer any key ("garbage", 2999-01-01-00:00, a multi key with its dimensions swapped) unless
// the user's config function itself fails on it, so they cannot tell membership.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClientError } from 'graphql-request';
import { startStack, type Stack } from '../../support/stack.js';

const python = process.env.OUTPOST_TEST_DAGSTER_PYTHON;
const temporalAddress = process.env.OUTPOST_TEST_TEMPORAL_ADDRESS;
const skip = !python
  ? (process.env.OUTPOST_TEST_DAGSTER_SKIP_REASON ??
    'OUTPOST_TEST_DAGSTER_PYTHON is not set: run through scripts/run-tests.ts')
  : !temporalAddress
    ? 'OUTPOST_TEST_TEMPORAL_ADDRESS is not set: run through scripts/run-tests.ts'
    : false;
if (skip) console.log(`# skipping Dagster partition launch tests: ${skip}`);

const LOC = 'parts';
/** A launch's query results together, in bytes: a handful of tags and config, never a key list. */
const SMALL_RESULTS = 4096;

interface Item {
  id: string;
  payload: string;
  status: string;
  result: string | null;
}

async function refusal(p: Promise<unknown>): Promise<{ message: string; code: unknown }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClientError) {
      const e = err.response.errors?.[0];
      return { message: e?.message ?? '', code: e?.extensions?.code };
    }
    throw err;
  }
  throw new Error('expected the request to be refused');
}

describe('Dagster partition launches (real control plane, agent and code server)', { skip }, () => {
  let s: Stack;
  const queries = async (): Promise<Item[]> =>
    await s.cp.store.db
      .selectFrom('work_items')
      .select(['id', 'payload', 'status', 'result'])
      .where('kind', '=', 'QUERY_CODE_LOCATION')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  /** The launch's outcome and the query items it made. */
  const launch = async (
    job: string,
    partitionKey: string,
  ): Promise<{
    run?: { id: string; tags: Record<string, string> };
    refused?: { message: string; code: unknown };
    items: Item[];
  }> => {
    const seen = new Set((await queries()).map((i) => i.id));
    const p = s.gql<{ launchRun: { id: string; tags: Record<string, string> } }>(
      `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id tags } }`,
      { i: { location: LOC, job, partitionKey } },
    );
    const out = await p.then(
      (r) => ({ run: r.launchRun }),
      async () => ({ refused: await refusal(p) }),
    );
    return { ...out, items: (await queries()).filter((i) => !seen.has(i.id)) };
  };
  const bytes = (items: Item[]): number => items.reduce((n, i) => n + (i.result?.length ?? 0), 0);
  const kinds = (items: Item[]): string[] => items.map((i) => (JSON.parse(i.payload) as { query: string }).query);

  before(async () => {
    s = await startStack({ temporalAddress: temporalAddress!, storeLimits: { locationQueryWaitMs: 60_000 } });
    await s.startAgent();
    await s.deployDagster(LOC, {
      python: python!,
      pythonFile: 'partitions.py',
      workingDirectory: resolve('test/fixtures/dagster/locations'),
    });
  });
  after(() => s?.close());

  test("a key of an hourly set since 2015 launches with one partition query whose answer is the partition's config and tags", async () => {
    const r = await launch('hourly_job', '2020-01-01-05:00');
    assert.ok(r.run, JSON.stringify(r.refused));
    assert.deepEqual(kinds(r.items), ['partitionRun', 'executionPlan']);
    assert.ok(bytes(r.items) < SMALL_RESULTS, `${bytes(r.items)} bytes of query results stored`);
    assert.equal(r.run.tags['dagster/partition'], '2020-01-01-05:00');
    // A partitioned config: the partition's config and its tags function's tags reach the run.
    const daily = await launch('configured_daily_job', '2021-03-04');
    assert.ok(daily.run, JSON.stringify(daily.refused));
    assert.deepEqual(kinds(daily.items), ['partitionRun', 'executionPlan']);
    assert.equal(daily.run.tags.team, 'growth');
    assert.equal(daily.run.tags.day, '2021-03-04');
    const multi = await launch('multi_hourly_job', 'red|2020-01-01-05:00');
    assert.ok(multi.run, JSON.stringify(multi.refused));
    assert.ok(bytes(multi.items) < SMALL_RESULTS, `${bytes(multi.items)} bytes`);
    for (const id of [r.run.id, daily.run.id, multi.run.id]) {
      const run = await s.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 180_000);
      assert.equal(run.status, 'SUCCESS', JSON.stringify(run.events.map((e) => [e.type, e.message])));
    }
  });

  test('an unknown key is UNKNOWN_PARTITION naming the key, the set, its range and the nearest keys, from a small answer', async () => {
    for (const [job, key, hint] of [
      ['hourly_job', '2999-01-01-00:00', /keys 2015-01-01-00:00 to \d{4}-\d\d-\d\d-\d\d:00 .*nearest: /],
      ['hourly_job', '2020-01-01-05:30', /nearest: 2020-01-01-05:00, 2020-01-01-06:00/],
      ['hourly_job', 'garbage', /not in that format/],
      ['configured_daily_job', '2019-12-31', /keys 2020-01-01 to /],
      ['multi_hourly_job', '2020-01-01-05:00|red', /dimension color/],
    ] as const) {
      const r = await launch(job, key);
      assert.equal(r.refused?.code, 'OUTPOST_ERR_UNKNOWN_PARTITION', `${key}: ${JSON.stringify(r)}`);
      assert.ok(r.refused.message.includes(JSON.stringify(key)), r.refused.message);
      assert.ok(r.refused.message.includes(`${job}_partition_set`), r.refused.message);
      assert.match(r.refused.message, hint);
      assert.ok(r.refused.message.length < 1000, `${r.refused.message.length} characters`);
      assert.deepEqual(kinds(r.items), ['partitionRun']);
      assert.ok(bytes(r.items) < SMALL_RESULTS, `${bytes(r.items)} bytes`);
    }
  });

  test('a dynamic-partitioned job is UNSUPPORTED_DAGSTER_FEATURE saying what to do, not a user-code error', async () => {
    const r = await launch('tenant_job', 'acme');
    assert.equal(r.refused?.code, 'OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE', JSON.stringify(r));
    assert.match(r.refused.message, /dynamic partitions \(tenant_job_partition_set\).*instance.*static or time-window/);
  });

  test('PARTITION_NAMES answers one page (1,000 keys at most) and the total', async () => {
    const ask = async (extra: string) =>
      (
        await s.gql<{
          queryCodeLocation: { status: string; result: { answer: { keys: string[]; offset: number; total: number } } };
        }>(
          `mutation { queryCodeLocation(input: { location: "${LOC}", job: "hourly_job", query: PARTITION_NAMES${extra} }, waitMs: 60000) { status result } }`,
        )
      ).queryCodeLocation;
    const first = await ask('');
    assert.equal(first.status, 'COMPLETED');
    assert.equal(first.result.answer.keys.length, 1000);
    assert.equal(first.result.answer.keys[0], '2015-01-01-00:00');
    assert.ok(first.result.answer.total > 100_000, String(first.result.answer.total));
    const page = await ask(', offset: 24, first: 2');
    // An hourly set gains a key on the hour: a page asked just after it may count one more.
    const { total, ...rest } = page.result.answer;
    assert.deepEqual(rest, { keys: ['2015-01-02-00:00', '2015-01-02-01:00'], offset: 24 });
    assert.ok(
      total === first.result.answer.total || total === first.result.answer.total + 1,
      `total ${total} after ${first.result.answer.total}`,
    );
    const big = await ask(', first: 1000000');
    assert.equal(big.result.answer.keys.length, 1000);
  });
});
