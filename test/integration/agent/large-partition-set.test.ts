// A static partition set of 100,000 keys through a real agent and code server: the control plane
// stores and serves its first MAX_SNAPSHOT_PARTITION_KEYS keys and its count (not ~1.3 MB of
// keys), a key past them still launches (the location decides membership), a key outside the set
// is refused, and the keys are searched page by page in the location (PARTITION_NAMES search).
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_SNAPSHOT_PARTITION_KEYS } from '../../../src/shared/location-snapshot.js';
import { testTemporal } from '../../support/temporal.js';
import { startStack, type Stack } from '../../support/stack.js';

const t = await testTemporal();
const BIG = resolve(import.meta.dirname, '..', '..', 'fixtures', 'user-code', 'big-partitions', 'definitions.ts');

interface Page {
  keys: string[];
  offset: number;
  total: number;
  search?: string;
}

describe('a static partition set of 100,000 keys', { timeout: 300_000 }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ temporalAddress: t.address });
    await stack.startAgent();
    await stack.deploy('big', BIG);
  });
  after(() => stack?.close());

  test('the stored snapshot and the API list its first keys and its count', async () => {
    const row = await stack.cp.store.db
      .selectFrom('code_locations')
      .select('snapshot')
      .where('name', '=', 'big')
      .executeTakeFirstOrThrow();
    const stored = String(row.snapshot);
    assert.ok(stored.length < 64 * 1024, `stored snapshot is ${stored.length} bytes`);
    const { codeLocation } = await stack.gql<{
      codeLocation: { partitions: Array<{ name: string; kind: string; keys: string[]; keyCount: number | null }> };
    }>(`{ codeLocation(name: "big") { partitions { name kind keys keyCount } } }`);
    const [set] = codeLocation.partitions;
    assert.equal(set?.kind, 'static');
    assert.equal(set?.keyCount, 100_000);
    assert.equal(set?.keys.length, MAX_SNAPSHOT_PARTITION_KEYS);
    assert.equal(set?.keys[0], 'k000000');
  });

  test('a key past the listed ones launches with its config; a key outside the set is refused', async () => {
    const { launchRun: run } = await stack.gql<{
      launchRun: { id: string; runConfig: Record<string, unknown>; tags: Record<string, string> };
    }>(`mutation($input: LaunchRunInput!) { launchRun(input: $input) { id runConfig tags } }`, {
      input: { location: 'big', job: 'shard', partitionKey: 'k099999' },
    });
    assert.deepEqual(run.runConfig, { shard: 'k099999' });
    assert.equal(run.tags.shard, 'k099999');
    const done = await stack.waitRun(run.id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(done.status, 'SUCCESS', JSON.stringify(done.events.filter((e) => e.error)));
    await assert.rejects(
      stack.gql(`mutation($input: LaunchRunInput!) { launchRun(input: $input) { id } }`, {
        input: { location: 'big', job: 'shard', partitionKey: 'k100000' },
      }),
      (err: Error) => {
        assert.match(err.message, /UNKNOWN_PARTITION/);
        assert.match(err.message, /k100000/);
        return true;
      },
    );
  });

  test('PARTITION_NAMES search answers the matches among all keys, one bounded page', async () => {
    const ask = async (input: Record<string, unknown>): Promise<Page> => {
      const { queryCodeLocation: item } = await stack.gql<{
        queryCodeLocation: { status: string; result: { answer: Page } | null };
      }>(`mutation($input: QueryCodeLocationInput!) { queryCodeLocation(input: $input) { status result } }`, {
        input: { location: 'big', job: 'shard', query: 'PARTITION_NAMES', ...input },
      });
      assert.equal(item.status, 'COMPLETED');
      return item.result!.answer;
    };
    const found = await ask({ search: 'K0999', first: 5 });
    assert.deepEqual(found, {
      keys: ['k099900', 'k099901', 'k099902', 'k099903', 'k099904'],
      offset: 0,
      total: 100,
      search: 'K0999',
    });
    const next = await ask({ search: 'k0999', offset: 98 });
    assert.deepEqual(next.keys, ['k099998', 'k099999']);
    const all = await ask({});
    assert.equal(all.keys.length, 1000, 'a page, at most 1,000 keys');
    assert.equal(all.total, 100_000);
  });
});
