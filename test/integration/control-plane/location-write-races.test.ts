// Deploy, reload and delete of one code location, each racing a deploy that commits in between
// (another user, a CI pipeline, a second control-plane replica). Each case makes the deploy's
// writes in a transaction of its own, starts the call, checks in pg_stat_activity that the call
// waits on a lock that transaction holds, and commits: what the call writes must build on the
// deploy, not on what it read before.
// - reload read the spec outside its transaction: it re-applied the old spec as the deploy's
//   own version number, and the deploy was lost;
// - delete removed the new version's row but recorded the old version's floor: the next deploy
//   reused the deleted version number, whose SYNC item already existed, so no agent was told;
// - two deploys of a name with no row (a new name, or one deleted) locked nothing, both wrote
//   the same version, and the last one's spec stood under the first one's SYNC item.
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
     * Runs `call` while a deploy of `module` is in flight: this transaction makes the statements
     * deployCodeLocation makes, starts `call`, waits until `call` waits on a lock it holds, then
     * commits. Returns what `call` returned.
     */
    const racingDeploy = async <T>(name: string, module: string, call: () => Promise<T>): Promise<T> => {
      let running: Promise<T> | undefined;
      await store.transaction(async (trx) => {
        const version = await writeLocationVersion(trx, store, parseLocationSpec({ name, module }));
        await enqueue(trx, store, {
          kind: 'SYNC_CODE_LOCATION',
          payload: { location: name, version },
          dedupeKey: `sync:${name}:${version}`,
        });
        running = call();
        // A rejection is awaited below, after the commit.
        running.catch(() => undefined);
        // Only this transaction holds locks in this test's database: a waiter is `call`.
        await until('the call waits on the deploy in flight', async () => {
          const r = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND datname = current_database() AND pid <> pg_backend_pid()`.execute(
            store.db,
          );
          return r.rows.length ? true : undefined;
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

    test('two first deploys of a new name take versions 1 and 2, each with its SYNC: the second builds on the first', async () => {
      const second = await racingDeploy('n', 'first.ts', () =>
        deployCodeLocation(store, { name: 'n', module: 'second.ts' }),
      );
      assert.equal(second.version, 2, 'the second deploy goes past the first, not over its version');
      const now = await getLocation(store.db, 'n');
      assert.equal(now?.spec.module, 'second.ts');
      assert.equal(now?.version, 2);
      assert.deepEqual(await syncVersions('n'), [1, 2], 'each deploy has a SYNC item of its own');
    });

    test('two deploys of a deleted name each take a version past its floor, with its SYNC', async () => {
      await deployCodeLocation(store, { name: 'g', module: 'a.ts' });
      await deleteCodeLocation(store, 'g');
      const second = await racingDeploy('g', 'b.ts', () => deployCodeLocation(store, { name: 'g', module: 'c.ts' }));
      assert.equal(second.version, 3, "past the racing deploy's version 2, itself past the deleted version 1");
      assert.equal((await getLocation(store.db, 'g'))?.spec.module, 'c.ts');
      assert.deepEqual(await syncVersions('g'), [1, 2, 3]);
    });
  },
);
