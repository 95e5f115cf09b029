// The same assertions on SQLite and PostgreSQL: connect, create a table, upsert idempotently.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/control-plane/store/connect.js';
import { describeEachDialect } from '../support/storage.js';

interface SmokeDB {
  smoke: { id: number; body: string };
}

describeEachDialect('storage smoke', (target) => {
  test('creates a table and ignores a duplicate insert', async () => {
    const { db, dialect } = openDatabase<SmokeDB>({ url: await target.freshUrl() });
    try {
      assert.equal(dialect, target.dialect);
      await db.schema
        .createTable('smoke')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('body', 'text')
        .execute();
      for (let i = 0; i < 2; i++) {
        await db
          .insertInto('smoke')
          .values({ id: 1, body: 'first' })
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
      }
      const rows = await db.selectFrom('smoke').selectAll().execute();
      assert.deepEqual(rows, [{ id: 1, body: 'first' }]);
      const one = await sql<{ n: number }>`select count(*) as n from smoke`.execute(db);
      assert.equal(Number(one.rows[0]?.n), 1);
    } finally {
      await db.destroy();
    }
  });
});
