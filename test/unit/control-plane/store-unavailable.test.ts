// A PostgreSQL the control plane cannot reach is POSTGRES_UNAVAILABLE, whose hint says what to
// check (the URL, the server), not INTERNAL ("report this"); the detail never holds the password.
// One that answers and says no is POSTGRES_REFUSED, whose hint names the grant and the URL's parts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { Store } from '../../../src/control-plane/store/store.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { freePort } from '../../../src/shared/net.js';
import { postgresSkipReason } from '../../support/storage.js';

test('an unreachable PostgreSQL is POSTGRES_UNAVAILABLE with its hint, and the password stays out', async () => {
  // A free loopback port: nothing listens there, so the connection is refused.
  const port = await freePort();
  const err: unknown = await Store.open({ url: `postgres://bob:hunter2-secret@127.0.0.1:${port}/outpost` }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isOutpostError(err), `expected a coded error, got ${String(err)}`);
  assert.equal(err.code, 'OUTPOST_ERR_POSTGRES_UNAVAILABLE');
  assert.match(err.hint, /OUTPOST_DATABASE_URL/);
  assert.match(err.message, /ECONNREFUSED/);
  assert.doesNotMatch(`${err.message} ${err.hint}`, /hunter2/);
});

const pgUrl = process.env.OUTPOST_TEST_PG_URL;
const noPg = pgUrl ? undefined : (postgresSkipReason() ?? 'no PostgreSQL');

test(
  'a PostgreSQL that answers and refuses (a missing database, a user who may not create the tables) is POSTGRES_REFUSED, not "could not be reached"',
  { skip: noPg },
  async () => {
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    const tag = `${process.pid}_${Date.now().toString(36)}`;
    try {
      await admin.query(`CREATE DATABASE refused_${tag}`);
      await admin.query(`CREATE ROLE limited_${tag} LOGIN`);
      // Since PostgreSQL 15 only the owner may create in `public`; said here for older servers too.
      const db = new pg.Client({ connectionString: withPath(pgUrl!, `/refused_${tag}`) });
      await db.connect();
      await db.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
      await db.end();
    } finally {
      await admin.end();
    }
    const cases = [
      { url: withPath(pgUrl!, `/missing_${tag}`), words: /does not exist/ },
      { url: withUser(withPath(pgUrl!, `/refused_${tag}`), `limited_${tag}`), words: /permission denied/ },
    ];
    for (const { url, words } of cases) {
      const err: unknown = await Store.open({ url }).then(
        async (s) => {
          await s.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      assert.ok(isOutpostError(err), `expected a coded error, got ${String(err)}`);
      assert.equal(err.code, 'OUTPOST_ERR_POSTGRES_REFUSED', err.message);
      assert.match(err.message, words);
      assert.match(err.hint, /GRANT CREATE/);
    }
  },
);

function withPath(url: string, path: string): string {
  const u = new URL(url);
  u.pathname = path;
  return u.toString();
}

function withUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  return u.toString();
}
