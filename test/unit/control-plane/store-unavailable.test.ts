// A PostgreSQL the control plane cannot reach is POSTGRES_UNAVAILABLE, whose hint says what to
// check (the URL, the server), not INTERNAL ("report this"); the detail never holds the password.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from '../../../src/control-plane/store/store.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { freePort } from '../../../src/shared/net.js';

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
