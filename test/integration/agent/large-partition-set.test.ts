// A static partition set of 100,000 keys through a real agent and code server: the control plane
// stores and serves its first MAX_SNAPSHOT_PARTITION_KEYS keys and its count (not ~1.3 MB of
// keys), a key past them still launches (the location decides membership), a key outside the set
// is refused, and the keys are searched page by page in the location (PARTITION_NAMES search).
// The partitionKeys query (the web UI's search as you type) answers a set its snapshot lists
// whole there, asks the location once per distinct search (a repeated or narrowing search is
// answered from memory, identical ones in flight share one question), writes no audit row, and
// takes a unit of the token's request rate per field.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_SNAPSHOT_PARTITION_KEYS } from '../../../src/shared/location-snapshot.js';
import { pageOfKeys, PartitionSearchCache } from '../../../src/control-plane/services/partition-keys.js';
import { testTemporal } from '../../support/temporal.js';
import { HELLO_MODULE, startStack, type Stack } from '../../support/stack.js';

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
    // A burst of 40 requests: one request with more partitionKeys fields than that is refused.
    stack = await startStack({ temporalAddress: t.address, limits: { maxRequestBurstPerToken: 40 } });
    await stack.startAgent();
    await stack.deploy('big', BIG);
    await stack.deploy('hello', HELLO_MODULE);
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

  interface KeysPage extends Page {
    source: string;
  }
  const PARTITION_KEYS = `query($location: String!, $job: String!, $search: String, $offset: Int, $first: Int) {
    partitionKeys(location: $location, job: $job, search: $search, offset: $offset, first: $first) { keys offset total search source }
  }`;
  const keysOf = async (vars: Record<string, unknown>): Promise<KeysPage> =>
    (await stack.gql<{ partitionKeys: KeysPage }>(PARTITION_KEYS, { location: 'big', job: 'shard', ...vars }))
      .partitionKeys;
  const queryItems = async (): Promise<number> =>
    (
      await stack.gql<{ workItems: unknown[] }>(
        `{ workItems(filter: { kind: QUERY_CODE_LOCATION }, first: 1000) { id } }`,
      )
    ).workItems.length;

  const auditCount = async (): Promise<number> =>
    (await stack.gql<{ auditLog: { nodes: unknown[] } }>(`{ auditLog(first: 1000) { nodes { id } } }`)).auditLog.nodes
      .length;

  test('partitionKeys asks the location once per distinct search; repeated and narrowing searches are answered here', async () => {
    const before = await queryItems();
    const audited = await auditCount();
    const found = await keysOf({ search: 'K0999', first: 5 });
    assert.deepEqual(found, {
      keys: ['k099900', 'k099901', 'k099902', 'k099903', 'k099904'],
      offset: 0,
      total: 100,
      search: 'K0999',
      source: 'LOCATION',
    });
    assert.equal(await queryItems(), before + 1);
    assert.deepEqual(await keysOf({ search: 'K0999', first: 5 }), { ...found, source: 'CACHE' });
    assert.equal(await queryItems(), before + 1, 'the same search again asks no agent');

    // All 100 matches of k0999 on one page: any longer search containing it is among them.
    const whole = await keysOf({ search: 'k0999' });
    assert.equal(whole.keys.length, 100);
    assert.equal(await queryItems(), before + 2);
    const narrower = await keysOf({ search: 'k09999', first: 3 });
    assert.deepEqual(narrower, {
      keys: ['k099990', 'k099991', 'k099992'],
      offset: 0,
      total: 10,
      search: 'k09999',
      source: 'CACHE',
    });
    assert.equal(await queryItems(), before + 2, 'a narrowing search asks no agent');

    // Three identical searches at once: one question.
    const three = await Promise.all([1, 2, 3].map(() => keysOf({ search: '12345' })));
    assert.deepEqual(
      three.map((p) => p.keys),
      [1, 2, 3].map(() => ['k012345']),
    );
    assert.equal(await queryItems(), before + 3);

    assert.equal(await auditCount(), audited, 'searching writes no audit row');
  });

  test('a first past the page bound is the bounded page: one search, asked once', async () => {
    const before = await queryItems();
    const page = await keysOf({ search: 'k05', first: 5000 });
    assert.equal(page.keys.length, 1000);
    assert.equal(page.source, 'LOCATION');
    assert.equal((await keysOf({ search: 'k05', first: 5000 })).source, 'CACHE');
    assert.equal((await keysOf({ search: 'k05', first: 1000 })).source, 'CACHE');
    assert.equal(await queryItems(), before + 1);
  });

  test('a request leaving a shared question early does not fail the others asking it', async () => {
    // The first request waits 100 ms (an agent takes longer to search 100,000 keys); the second,
    // sent at once, joins its question and waits for the answer. Once only the first request's
    // wait bounded the shared question, and the second failed with it.
    const token = await stack.cp.issueToken('user', 'leaver', 'LAUNCHER');
    const ask = async (waitMs: number) => {
      const res = await fetch(`${stack.cp.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: `{ partitionKeys(location: "big", job: "shard", search: "k0777", first: 2, waitMs: ${waitMs}) { keys total } }`,
        }),
      });
      return (await res.json()) as { data?: { partitionKeys: Page } | null; errors?: { message: string }[] };
    };
    const before = await queryItems();
    const [gone, kept] = await Promise.all([ask(100), ask(20_000)]);
    assert.equal(kept.errors, undefined, JSON.stringify(kept.errors));
    assert.deepEqual(kept.data?.partitionKeys, { keys: ['k077700', 'k077701'], total: 100 });
    if (gone.errors) assert.match(gone.errors[0]!.message, /not answered within/);
    assert.ok((await queryItems()) <= before + 2);
  });

  test('the search cache bounds the characters of keys it holds and remembers only pages', () => {
    const cache = new PartitionSearchCache(undefined, 1000);
    const page = (n: number, len: number) => ({
      keys: Array.from({ length: n }, (_, i) => String(i).padStart(len, 'k')),
      offset: 0,
      total: n,
      source: 'LOCATION' as const,
    });
    cache.set('a', page(10, 40)); // 400 characters
    cache.set('b', page(10, 40));
    assert.equal(cache.rememberedKeyChars, 800);
    cache.set('c', page(10, 40)); // over 1000: the oldest goes
    assert.equal(cache.get('a'), undefined);
    assert.ok(cache.get('b') && cache.get('c'));
    assert.equal(cache.rememberedKeyChars, 800);
    cache.set('d', page(1, 2000)); // larger than the bound: not remembered
    assert.equal(cache.get('d'), undefined);
    assert.equal(cache.rememberedKeyChars, 800);

    // An agent's answer is a page only with string keys and whole-number offset and total.
    assert.ok(pageOfKeys({ keys: ['a'], offset: 0, total: 1 }));
    assert.equal(pageOfKeys({ keys: [1, 2], offset: 0, total: 2 }), undefined);
    assert.equal(pageOfKeys({ keys: ['a'], offset: 0, total: '1' }), undefined);
    assert.equal(pageOfKeys({ keys: ['a'], offset: 0.5, total: 1 }), undefined);
    assert.equal(pageOfKeys({ keys: ['a', 'b'], offset: 0, total: 1 }), undefined);
  });

  test('partitionKeys of a set the snapshot lists whole is answered from the snapshot', async () => {
    const before = await queryItems();
    const { partitionKeys: page } = await stack.gql<{ partitionKeys: KeysPage }>(PARTITION_KEYS, {
      location: 'hello',
      job: 'greet_region',
      search: 'S',
    });
    assert.deepEqual(page, { keys: ['us'], offset: 0, total: 1, search: 'S', source: 'SNAPSHOT' });
    assert.equal(await queryItems(), before);
  });

  test('partitionKeys fields take the request rate: more in one request than the burst are refused', async () => {
    const fields = Array.from(
      { length: 60 },
      (_, i) => `k${i}: partitionKeys(location: "big", job: "shard", search: "k0999", first: 5) { total }`,
    );
    await assert.rejects(stack.gql(`{ ${fields.join(' ')} }`), /RATE_LIMITED/);
  });
});
