// A control plane whose SQLite database has no room left to write: a write answers 503
// STORE_DISK_FULL with what to do (it answered 500 INTERNAL "report this", with a stack logged
// per request), reads still answer, the file stays sound, and writes resume once there is room.
// The room is SQLite's own cap (PRAGMA max_page_count), which fails a write with the same
// SQLITE_FULL a full filesystem gives (seen on a 1.5 MiB tmpfs: "database or disk is full").
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { capturedLogger } from '../../support/captured-log.js';

describe('control plane on a SQLite database with no room to write', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disk-full-'));
  const log = capturedLogger('control-plane', 'warn');
  let cp: ControlPlane;
  let token: string;

  before(async () => {
    cp = await startControlPlane({
      databaseUrl: `sqlite:${join(dir, 'outpost.db')}`,
      port: 0,
      logger: log.logger,
      daemon: false,
    });
    token = await cp.issueToken('user', 'disk-full-test');
  });
  after(async () => {
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const gql = async (
    query: string,
  ): Promise<{
    status: number;
    body: { data?: unknown; errors?: Array<{ extensions: { code: string; http: number; hint: string } }> };
  }> => {
    const res = await fetch(`${cp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return { status: res.status, body: (await res.json()) as never };
  };
  const pragma = async (text: string): Promise<unknown> =>
    Object.values((await sql.raw(`PRAGMA ${text}`).execute(cp.store.db)).rows[0] as object)[0];
  const createToken = (i: number): ReturnType<typeof gql> =>
    gql(`mutation { createToken(kind: USER, name: "fill-${i}-${'x'.repeat(40)}") { token } }`);

  test('a write answers 503 STORE_DISK_FULL, reads answer, and writes resume once there is room', async () => {
    const pages = Number(await pragma('page_count'));
    await pragma(`max_page_count = ${pages}`);
    let stored = 0;
    let full: Awaited<ReturnType<typeof gql>> | undefined;
    // Bounded: the free pages of a fresh file hold a few hundred of these rows at most.
    for (let i = 0; i < 2_000 && !full; i++) {
      const r = await createToken(i);
      if (r.body.errors) full = r;
      else stored++;
    }
    assert.ok(full, `the database filled (${stored} tokens stored)`);
    const error = full.body.errors![0]!;
    assert.equal(error.extensions.code, 'OUTPOST_ERR_STORE_DISK_FULL', JSON.stringify(full.body));
    assert.equal(full.status, 503);
    assert.match(error.extensions.hint, /Free space/);
    const read = await gql('{ runs(first: 1) { nodes { id } } }');
    assert.equal(read.status, 200, 'reads still answer');
    assert.equal((await fetch(`${cp.url}/readyz`)).status, 200);

    await pragma('max_page_count = 1000000');
    const again = await createToken(-1);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(await pragma('integrity_check'), 'ok');
    const rows = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM tokens WHERE name LIKE 'fill-%'`.execute(
      cp.store.db,
    );
    assert.equal(Number(rows.rows[0]!.n), stored + 1, 'every refused write left nothing behind');
    const unexpected = log.lines.filter((l) => /unexpected error in a resolver|request failed/.test(l));
    assert.deepEqual(unexpected, [], 'no stack logged per refused write');
  });
});
