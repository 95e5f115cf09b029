// SQLite (better-sqlite3): the embedded default. One writer at a time, so transactions begin
// IMMEDIATE (taking the write lock at once), rows need no lock of their own, and the event
// ingest uses prepared statements on the raw handle (sqlite-run-events.ts). A file database's
// WAL checkpoints run on a thread of their own (sqlite-checkpointer.ts), not inside COMMIT.
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, SqliteDriver, sql, type SqliteDatabase, type SqliteDialectConfig } from 'kysely';
import type { Database, WorkItemsTable } from '../schema.js';
import { claimable, type DialectFactory, type StoreDialect } from './dialect.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';
import { appendRunEventsSqlite } from './sqlite-run-events.js';

/** Distinct SQL texts whose statements are kept; past it the oldest is let go. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * The handle as Kysely's SqliteDialect sees it, with each distinct SQL text prepared once:
 * Kysely prepares every query it runs, and preparing cost the control plane as much CPU as
 * running the query on its hot paths, which repeat the same few texts. Safe to share: Kysely
 * runs a statement to completion synchronously (all/run); one still being iterated (busy) is
 * not handed out again.
 */
export function cachingDatabase(handle: SQLite.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => handle.close(),
    prepare(source: string) {
      const hit = cache.get(source);
      if (hit && !hit.busy) return hit;
      const stmt = handle.prepare(source);
      if (!hit) {
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
        cache.set(source, stmt);
      }
      return stmt;
    },
  };
}

/**
 * Runs `write` holding Kysely's one connection (so nothing interleaves with it) once SQLite's
 * write lock is free of checkpoints: past the WAL's bound it waits for the checkpoint without
 * blocking the thread, and a RESTART asked for while it waited for the connection (by the commit
 * ahead of it) is waited for with the connection given back, so reads go on meanwhile.
 */
async function onWriteConnection<T>(
  db: Kysely<Database>,
  ckpt: SqliteCheckpointer | undefined,
  write: (conn: Kysely<Database>) => Promise<T>,
): Promise<T> {
  for (;;) {
    const room = ckpt?.beforeWrite();
    if (room) await room;
    const out = await db.connection().execute(async (conn): Promise<{ value: T } | { restart: Promise<void> }> => {
      const restart = ckpt?.restartInFlight();
      return restart ? { restart } : { value: await write(conn) };
    });
    if ('value' in out) return out.value;
    await out.restart;
  }
}

function sqliteOps(handle: SQLite.Database, ckpt: SqliteCheckpointer | undefined): StoreDialect {
  return {
    name: 'sqlite',
    openErrorCode: () => 'INTERNAL',
    // SQLITE_FULL: the filesystem (or max_page_count) has no room; the write was rolled back.
    unavailableCode: (err) =>
      (err as { code?: unknown } | null)?.code === 'SQLITE_FULL' ? 'STORE_DISK_FULL' : undefined,
    listen: () => Promise.resolve(),
    // Two processes that read then write wait for each other (busy_timeout) instead of failing
    // with SQLITE_BUSY.
    transaction: (db, fn) =>
      onWriteConnection(db, ckpt, async (conn) => {
        await sql`BEGIN IMMEDIATE`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`COMMIT`.execute(conn);
          ckpt?.afterCommit();
          return result;
        } catch (err) {
          await sql`ROLLBACK`.execute(conn).catch(() => undefined);
          throw err;
        }
      }),
    lockForUpdate: (q) => q,
    // BEGIN IMMEDIATE holds the one write lock until commit: nothing read can change meanwhile.
    lockForShare: (q) => q,
    claimQueued: async (db, set, limit, now) =>
      (
        await sql<WorkItemsTable>`
    UPDATE work_items SET ${set}
     WHERE id IN (SELECT id FROM work_items WHERE status = 'QUEUED' AND ${claimable(now)}
                  ORDER BY created_at, id LIMIT ${limit})
       AND status = 'QUEUED'
    RETURNING *`.execute(db)
      ).rows,
    appendRunEvents: async (store, runId, rows, writer) => {
      const result = await onWriteConnection(store.db, ckpt, () =>
        Promise.resolve(appendRunEventsSqlite(store, handle, runId, rows, writer)),
      );
      ckpt?.afterCommit();
      return result;
    },
  };
}

/** Kysely's SQLite driver, whose destroy ends the checkpoint thread before the connection closes. */
class CheckpointedSqliteDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly ckpt: SqliteCheckpointer,
  ) {
    super(config);
  }

  override async destroy(): Promise<void> {
    await this.ckpt.close();
    await super.destroy();
  }
}

class CheckpointedSqliteDialect extends SqliteDialect {
  constructor(
    private readonly config: SqliteDialectConfig,
    private readonly ckpt: SqliteCheckpointer,
  ) {
    super(config);
  }

  override createDriver(): SqliteDriver {
    return new CheckpointedSqliteDriver(this.config, this.ckpt);
  }
}

/**
 * The database holds run configs, compute logs and token hashes: for its owner only. Each
 * directory created on the way to it is 0700 (mkdir applies the mode to every level it creates),
 * and the file itself is created 0600 before SQLite opens it; SQLite gives the -wal and -shm files
 * it creates the main file's mode, so they are 0600 too. A directory or database file that
 * already exists keeps its mode: the user chose the directory (it may be shared with a backup
 * group on purpose) and may have set the file's mode themselves; a database readable by others
 * gets a warning naming the fix instead of a silent chmod.
 */
function createPrivately(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600)); // the mode applies only when this creates the file
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0)
    process.emitWarning(
      `the database ${file} is open to other users (mode ${mode.toString(8)}); \`chmod 600\` it and its -wal and -shm files`,
      'OutpostWarning',
    );
}

const checkpointers = new WeakMap<StoreDialect, SqliteCheckpointer>();

/** The checkpointer of an open SQLite file database (tests, diagnostics); none in memory. */
export function sqliteCheckpointerOf(ops: StoreDialect): SqliteCheckpointer | undefined {
  return checkpointers.get(ops);
}

export const sqliteDialect: DialectFactory = {
  name: 'sqlite',
  binaryType: 'blob',
  open<DB>(opts: { url: string }) {
    const file = opts.url.replace(/^sqlite:(\/\/)?/, '');
    if (file !== ':memory:' && file !== '') createPrivately(file);
    const handle = new SQLite(file);
    // WAL lets readers run beside the single writer; NORMAL sync is durable across process crashes.
    const journal = handle.pragma('journal_mode = WAL', { simple: true });
    handle.pragma('synchronous = NORMAL');
    handle.pragma('busy_timeout = 5000');
    handle.pragma('foreign_keys = ON');
    // An in-memory or temporary database has no WAL: nothing to checkpoint.
    const ckpt = journal === 'wal' ? new SqliteCheckpointer(handle, { file: resolve(file) }) : undefined;
    ckpt?.on('failed', (err: Error) =>
      process.emitWarning(`SQLite checkpoints run on the main thread again: ${err.message}`, 'OutpostWarning'),
    );
    const config: SqliteDialectConfig = { database: cachingDatabase(handle) };
    const ops = sqliteOps(handle, ckpt);
    if (ckpt) checkpointers.set(ops, ckpt);
    return {
      db: new Kysely<DB>({ dialect: ckpt ? new CheckpointedSqliteDialect(config, ckpt) : new SqliteDialect(config) }),
      dialect: 'sqlite',
      ops,
    };
  },
};
