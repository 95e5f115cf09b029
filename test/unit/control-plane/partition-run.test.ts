// The user's run config merged over a partition's: objects recursively, the user's values win.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deepMerge } from '../../../src/control-plane/services/partition-run.js';

test("deepMerge: nested objects merge, the user's leaves and arrays replace the partition's", () => {
  const partition = { region: 'eu', db: { host: 'eu.db', port: 5432 }, zones: ['a', 'b'] };
  const user = { db: { port: 6543 }, zones: ['c'], extra: null };
  assert.deepEqual(deepMerge(partition, user), {
    region: 'eu',
    db: { host: 'eu.db', port: 6543 },
    zones: ['c'],
    extra: null,
  });
  assert.deepEqual(partition, { region: 'eu', db: { host: 'eu.db', port: 5432 }, zones: ['a', 'b'] }, 'unchanged');
  assert.deepEqual(deepMerge({ db: { host: 'x' } }, { db: 'flat' }), { db: 'flat' });
});
