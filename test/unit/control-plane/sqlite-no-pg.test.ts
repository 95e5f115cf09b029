// A control plane on SQLite (what `npm start` runs) does not load pg: its whole control-plane
// module graph is imported and a SQLite store opened, and no module of the pg package is loaded.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { test } from 'node:test';

test('importing the control plane and opening a SQLite store loads no module of pg', async () => {
  await import('../../../src/control-plane/index.js');
  const { Store } = await import('../../../src/control-plane/store/store.js');
  const dir = mkdtempSync(join(tmpdir(), 'outpost-no-pg-'));
  try {
    const store = await Store.open({ url: `sqlite:${join(dir, 'outpost.db')}` });
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pgDir = `${sep}node_modules${sep}pg${sep}`;
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((id) => id.includes(pgDir));
  assert.deepEqual(loaded, []);
});
