// The SQLite store prepares each distinct SQL text once and reuses the statement: preparing
// cost as much CPU as running the query on the control plane's hot paths (claim, launch
// report, completion), where Kysely sends the same few texts over and over.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SQLite from 'better-sqlite3';
import { Store } from '../../../src/control-plane/store/store.js';

test('the same query run again is not prepared again, and still answers with the current rows', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sqlite-stmts-'));
  const store = await Store.open({ url: `sqlite:${join(dir, 'outpost.db')}` });
  // Kept to be called with its handle as `this` and put back after.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const prepare = SQLite.prototype.prepare;
  const texts: string[] = [];
  SQLite.prototype.prepare = function (this: SQLite.Database, source: string) {
    texts.push(source);
    return prepare.call(this, source);
  } as typeof prepare;
  try {
    const count = async () =>
      Number(
        (
          await store.db
            .selectFrom('audit_log')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('action', '=', 'x')
            .executeTakeFirstOrThrow()
        ).n,
      );
    const insert = (i: number) =>
      store.db
        .insertInto('audit_log')
        .values({ id: `a${i}`, at: i, actor_token_id: null, actor: 'p', action: 'x', target: 't', outcome: 'ok' })
        .execute();
    for (let i = 0; i < 5; i++) {
      await insert(i);
      assert.equal(await count(), i + 1);
    }
    // Each statement inside a transaction too (BEGIN/COMMIT are their own texts).
    await store.transaction(async (trx) => {
      await trx.updateTable('audit_log').set({ target: 'u' }).where('id', '=', 'a0').execute();
      await trx.updateTable('audit_log').set({ target: 'u' }).where('id', '=', 'a1').execute();
    });
    const byText = new Map<string, number>();
    for (const t of texts) byText.set(t, (byText.get(t) ?? 0) + 1);
    const repeated = [...byText].filter(([, n]) => n > 1);
    assert.deepEqual(repeated, [], 'no SQL text prepared twice');
    assert.ok(byText.size >= 3, `queries went through prepare: ${[...byText.keys()].join(' | ')}`);
  } finally {
    SQLite.prototype.prepare = prepare;
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
