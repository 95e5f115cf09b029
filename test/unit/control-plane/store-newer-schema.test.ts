// A database migrated by a newer Outpost (it ran a migration this build does not have) is not
// "PostgreSQL could not be reached" (check the URL and the server: both are fine) nor INTERNAL:
// it is DATABASE_TOO_NEW, naming the migration. Real stores, both dialects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { Store } from '../../../src/control-plane/store/store.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { describeEachDialect } from '../../support/storage.js';

describeEachDialect('a database a newer Outpost migrated', (target) => {
  test('is DATABASE_TOO_NEW naming the migration this build lacks', async () => {
    const url = await target.freshUrl();
    const first = await Store.open({ url });
    try {
      await sql`insert into kysely_migration (name, timestamp) values (${'9999_from_a_newer_outpost'}, ${new Date().toISOString()})`.execute(
        first.db,
      );
    } finally {
      await first.close();
    }
    const err: unknown = await Store.open({ url }).then(
      async (s) => {
        await s.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    assert.ok(isOutpostError(err), `expected a coded error, got ${String(err)}`);
    assert.equal(err.code, 'OUTPOST_ERR_DATABASE_TOO_NEW');
    assert.match(err.message, /9999_from_a_newer_outpost/);
  });
});
