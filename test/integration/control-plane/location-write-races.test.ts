// Deploy, reload and delete of one code location, each racing a deploy that commits in between
// (another user, a CI pipeline, a second control-plane replica). Each case holds the call at
// its write with a row lock (checking in pg_stat_activity that it waits there), commits the
// deploy's writes in that transaction, and lets the call go on: what it writes must build on
// the deploy, not on what it read before.
// - reload read the spec outside its transaction: it re-applied the old spec as the deploy's
//   own version number, and the deploy was lost;
// - delete removed the new version's row but recorded the old version's floor: the next deploy
//   reused the deleted version number, whose SYNC item already existed, so no agent was told.
// PostgreSQL only: SQLite serializes writers with BEGIN IMMEDIATE.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import {
  deleteCodeLocation,
  deployCodeLocation,
  reloadCodeLocation,
} from '../../../src/control-plane/services/locations-service.js';
import { getLocation, parseLocationSpec, writeLocationVersion } from '../../../src/control-plane/store/locations.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { enqueue } from '../../../src/control-plane/store/work-items.js';
import { describePostgres } from '../../support/storage.js';
import { until } from '../../support/wait.js';

describePostgres(
  'code location writes racing a deploy',
  'held with PostgreSQL locks; SQLite serializes writers',
  (target) => {
    let store: Store;

    before(async () => {
      store = await Store.open({ url: await target.freshUrl() });
    });
    after(async () => {
      await store?.close();
    });

    /**
     * Runs `call` while this transaction holds the location's row, waits until `call` waits on it,
     * then commits a deploy of `module` (the statements deployCodeLocation makes) and returns what
     * `call` returned.
     */
    const racingDeploy = async <T>(name: string, module: string, call: () => Promise<T>): Promise<T> => {
      let running: Promise<T> | undefined;
      await store.transaction(async (trx) => {
        await sql`SELECT name FROM code_locations WHERE name = ${name} FOR UPDATE`.execute(trx);
        running = call();
        // A rejection is awaited below, after the commit.
        running.catch(() => undefined);
        await until('the call waits on the location row', async () => {
          const r = await sql<{ query: string }>`SELECT query FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()`.execute(store.db);
          return r.rows.some((x) => /code_locations/i.test(x.query)) ? true : undefined;
        });
        const version = await writeLocationVersion(trx, store, parseLocationSpec({ name, module }));
        await enqueue(trx, store, {
          kind: 'SYNC_CODE_LOCATION',
          payload: { location: name, version },
          dedupeKey: `sync:${name}:${version}`,
        });
      });
      return running!;
    };

    const syncVersions = async (name: string): Promise<number[]> =>
      (await store.db.selectFrom('work_items').select('payload').where('kind', '=', 'SYNC_CODE_LOCATION').execute())
        .map((w) => JSON.parse(w.payload) as { location: string; version: number })
        .filter((p) => p.location === name)
        .map((p) => p.version)
        .sort((a, b) => a - b);

    test('a reload racing a deploy keeps the deploy: it reloads the deployed spec as the next version', async () => {
      await deployCodeLocation(store, { name: 'r', module: 'old.ts' });
      const reloaded = await racingDeploy('r', 'new.ts', () => reloadCodeLocation(store, 'r'));
      const now = await getLocation(store.db, 'r');
      assert.equal(now?.spec.module, 'new.ts', 'the deployed spec stays');
      assert.equal(now?.version, 3, 'deploy took version 2, the reload version 3');
      assert.equal(reloaded.version, 3);
      assert.deepEqual(await syncVersions('r'), [1, 2, 3]);
    });

    test('a delete racing a deploy records the deployed version: the next deploy gets a version of its own, and its SYNC', async () => {
      await deployCodeLocation(store, { name: 'd', module: 'a.ts' });
      await racingDeploy('d', 'b.ts', () => deleteCodeLocation(store, 'd'));
      assert.equal(await getLocation(store.db, 'd'), undefined);
      const again = await deployCodeLocation(store, { name: 'd', module: 'c.ts' });
      assert.equal(again.version, 3, 'past the deleted version 2');
      assert.deepEqual(await syncVersions('d'), [1, 2, 3]);
    });
  },
);
