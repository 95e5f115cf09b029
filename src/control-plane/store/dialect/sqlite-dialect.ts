// SQLite (better-sqlite3): the embedded default. One writer at a time, so transactions begin
// IMMEDIATE (taking the write lock at once), rows need no lock of their own, and the event
// ingest uses prepared statements on the raw handle (sqlite-run-events.ts).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { WorkItemsTable } from '../schema.js';
import type { DialectFactory, StoreDialect } from './dialect.js';
import { appendRunEventsSqlite } from './sqlite-run-events.js';

function sqliteOps(handle: SQLite.Database): StoreDialect {
  return {
    name: 'sqlite',
    unavailableCode: 'INTERNAL',
    listen: () => Promise.resolve(),
    // Two processes that read then write wait for each other (busy_timeout) instead of failing
    // with SQLITE_BUSY.
    transaction: (db, fn) =>
      db.connection().execute(async (conn) => {
        await sql`BEGIN IMMEDIATE`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`COMMIT`.execute(conn);
          return result;
        } catch (err) {
          await sql`ROLLBACK`.execute(conn).catch(() => undefined);
          throw err;
        }
      }),
    lockForUpdate: (q) => q,
    claimQueued: async (db, set, limit) =>
      (
        await sql<WorkItemsTable>`
    UPDATE work_items SET ${set}
     WHERE id IN (SELECT id FROM work_items WHERE status = 'QUEUED' ORDER BY created_at, id LIMIT ${limit})
       AND status = 'QUEUED'
    RETURNING *`.execute(db)
      ).rows,
    appendRunEvents: (store, runId, rows) => appendRunEventsSqlite(store, handle, runId, rows),
  };
}

export const sqliteDialect: DialectFactory = {
  name: 'sqlite',
  binaryType: 'blob',
  open<DB>(opts: { url: string }) {
    const file = opts.url.replace(/^sqlite:(\/\/)?/, '');
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const handle = new SQLite(file);
    // WAL lets readers run beside the single writer; NORMAL sync is durable across process crashes.
    handle.pragma('journal_mode = WAL');
    handle.pragma('synchronous = NORMAL');
    handle.pragma('busy_timeout = 5000');
    handle.pragma('foreign_keys = ON');
    return {
      db: new Kysely<DB>({ dialect: new SqliteDialect({ database: handle }) }),
      dialect: 'sqlite',
      ops: sqliteOps(handle),
    };
  },
};
