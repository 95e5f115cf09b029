// `outpost control-plane` on its own keeps its data private: a fresh data directory is 0700 and
// the SQLite database with its -wal and -shm files 0600, so other local users cannot read run
// configs, compute logs or token hashes. A directory the user already had keeps its mode, but
// nothing created in it is readable by anyone else.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnOutpost, stopGracefully } from '../../support/process.js';

const root = mkdtempSync(join(tmpdir(), 'outpost-modes-'));
after(() => rmSync(root, { recursive: true, force: true }));

const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8);

/** Starts `outpost control-plane` with `dataDir` as its data directory and database home. */
async function startIn(dataDir: string): Promise<() => Promise<void>> {
  const { child } = await spawnOutpost(['control-plane', '--port', '0', '--no-daemon'], /control plane at http/, {
    OUTPOST_DATA_DIR: dataDir,
    OUTPOST_DATABASE_URL: `sqlite:${join(dataDir, 'outpost.db')}`,
  });
  return () => stopGracefully(child);
}

describe('outpost control-plane data directory modes', () => {
  test('a fresh data directory (and its missing parent) is 0700; the database and its WAL files 0600', async () => {
    const dataDir = join(root, 'fresh', '.outpost');
    const stop = await startIn(dataDir);
    try {
      assert.equal(modeOf(join(root, 'fresh')), '700', 'a parent created on the way');
      assert.equal(modeOf(dataDir), '700');
      const files = readdirSync(dataDir).sort();
      for (const f of ['outpost.db', 'outpost.db-shm', 'outpost.db-wal', 'user.token'])
        assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
      for (const f of files) assert.equal(modeOf(join(dataDir, f)), '600', f);
    } finally {
      await stop();
    }
  });

  test('an existing directory keeps its mode; what is created in it is 0600', async () => {
    const dataDir = join(root, 'chosen');
    mkdirSync(dataDir, { mode: 0o750 });
    const stop = await startIn(dataDir);
    try {
      assert.equal(modeOf(dataDir), '750', 'the user’s directory is not chmodded');
      const files = readdirSync(dataDir);
      assert.ok(files.includes('outpost.db-wal'), files.join(', '));
      for (const f of files) assert.equal(modeOf(join(dataDir, f)), '600', f);
    } finally {
      await stop();
    }
  });
});
