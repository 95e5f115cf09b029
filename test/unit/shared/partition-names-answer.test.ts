// An agent's partitionNames answer: a page for this control plane, the whole list for one from
// before paging (it checks a launch's key against the array it gets back).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_PARTITION_NAMES_PAGE, partitionNamesAnswer } from '../../../src/shared/work-items.js';

const keys = Array.from({ length: 2500 }, (_, i) => `k${i}`);

test('a request without offset or first (a control plane from before paging) gets the whole list', () => {
  assert.deepEqual(partitionNamesAnswer(keys, {}), keys);
});

test('a request with first or offset gets one page of at most MAX_PARTITION_NAMES_PAGE keys and the total', () => {
  assert.deepEqual(partitionNamesAnswer(keys, { first: 2 }), { keys: ['k0', 'k1'], offset: 0, total: 2500 });
  const page = partitionNamesAnswer(keys, { offset: 2000 });
  assert.ok(!Array.isArray(page));
  assert.equal((page as { keys: string[] }).keys.length, 500);
  const capped = partitionNamesAnswer(keys, { first: 5000 }) as { keys: string[] };
  assert.equal(capped.keys.length, MAX_PARTITION_NAMES_PAGE);
});

test('a search without offset or first gets the first page of the matching keys, not the whole list', () => {
  const page = partitionNamesAnswer(keys, { search: 'K249' });
  assert.deepEqual(page, {
    keys: ['k249', 'k2490', 'k2491', 'k2492', 'k2493', 'k2494', 'k2495', 'k2496', 'k2497', 'k2498', 'k2499'],
    offset: 0,
    total: 11,
    search: 'K249',
  });
});
