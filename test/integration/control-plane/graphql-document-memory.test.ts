// The control plane's caches keyed by GraphQL document text (yoga's parse caches, the fast
// path's validated documents) hold a bounded amount of text: any token holder could otherwise
// pin gigabytes with distinct large documents (a `{ __typename }` with a 4 MiB comment is valid,
// parses to 3 tokens and is well under the 16 MiB body limit).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DocumentCache } from '../../../src/control-plane/graphql/document-cache.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let dir: string;
let h: Harness;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-doc-memory-'));
  // The user API's own body limit (1 MiB) raised to the agent API's: the caches are under test here.
  h = await openHarness(`sqlite:${join(dir, 'db.sqlite')}`, { limits: { maxUserBodyBytes: 16 * 2 ** 20 } });
});
after(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(api: 'graphql' | 'agent/graphql', token: string, query: string): Promise<unknown> {
  const res = await h.handler(
    new Request(`http://127.0.0.1/${api}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    }),
  );
  assert.equal(res.status, 200);
  return res.json();
}

const heapMiB = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

test('distinct large documents sent by a token holder are not all kept in memory', async () => {
  const padding = 'x'.repeat(4 * 2 ** 20);
  const base = heapMiB();
  for (let i = 0; i < 24; i++) {
    for (const [api, token] of [
      ['graphql', h.userToken],
      ['agent/graphql', h.agentToken],
    ] as const) {
      // The comment makes each text distinct and 4 MiB long; twice, so the fast path sees it too.
      const query = `query Q${i} { __typename }\n# ${i} ${padding}`;
      for (let k = 0; k < 2; k++) assert.deepEqual(await post(api, token, query), { data: { __typename: 'Query' } });
    }
  }
  const grown = heapMiB() - base;
  // 48 texts of 4 MiB: ~192 MiB if kept (as before); a small fraction of one now.
  assert.ok(grown < 48, `the heap grew by ${grown.toFixed(0)} MiB after 48 distinct 4 MiB documents`);
});

test('DocumentCache: least recently used out first, by count and by text length', () => {
  const c = new DocumentCache<number>(3, 10);
  c.set('aaaa', 1);
  c.set('bbbb', 2);
  assert.equal(c.get('aaaa'), 1);
  c.set('cc', 3); // 10 chars: fits
  c.set('dd', 4); // over 10 chars: the least recently used ('bbbb') goes
  assert.equal(c.get('bbbb'), undefined);
  assert.deepEqual(c.size, { entries: 3, chars: 8 });
  c.set('eeeeeeeeeee', 5); // longer than the whole budget: not kept, nothing evicted
  assert.equal(c.get('eeeeeeeeeee'), undefined);
  assert.deepEqual(c.size, { entries: 3, chars: 8 });
  c.set('f', 6); // a fourth entry: count bound, 'aaaa' (least recent) goes
  assert.equal(c.get('aaaa'), undefined);
  assert.deepEqual([c.get('cc'), c.get('dd'), c.get('f')], [3, 4, 6]);
});
