// Migration 0006 on a database from before roles: user tokens that existed were all-powerful,
// so they become ADMIN; agent tokens get no role; their sessions and the audit log start empty.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../../src/control-plane/store/connect.js';
import { migrateTo } from '../../../src/control-plane/store/migrations.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { getToken, listTokens } from '../../../src/control-plane/store/tokens.js';
import { describeEachDialect } from '../../support/storage.js';

describeEachDialect('roles migration', (target) => {
  test('existing user tokens become ADMIN, agent tokens carry no role', async () => {
    const url = await target.freshUrl();
    const old = openDatabase<unknown>({ url });
    await migrateTo(old.db, old.dialect, '0002_agent_token');
    for (const [id, kind] of [
      ['tok_user', 'user'],
      ['tok_agent', 'agent'],
    ]) {
      await sql`INSERT INTO tokens (id, kind, name, hash, created_at) VALUES (${id}, ${kind}, ${id}, ${`h_${id}`}, ${1})`.execute(
        old.db,
      );
    }
    await old.db.destroy();
    const store = await Store.open({ url });
    try {
      assert.equal((await getToken(store, 'tok_user'))?.role, 'ADMIN');
      assert.equal((await getToken(store, 'tok_agent'))?.role, null);
      assert.equal((await listTokens(store)).length, 2);
    } finally {
      await store.close();
    }
  });
});
