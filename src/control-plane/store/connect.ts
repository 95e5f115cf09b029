// Opens the metadata database: SQLite (better-sqlite3, the embedded default) or PostgreSQL (pg),
// chosen by the URL: `sqlite:<path>` / a bare path, or `postgres://...`.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';

export type Dialect = 'sqlite' | 'postgres';

export interface OpenOptions {
  /** `postgres://user:pass@host:5432/db`, `sqlite:.outpost/outpost.db`, or a file path. */
  url: string;
  /** PostgreSQL pool size; default 10. */
  poolSize?: number;
}

export interface OpenedDatabase<DB> {
  db: Kysely<DB>;
  dialect: Dialect;
  /** SQLite only: the raw handle, for pragmas and fast batched statements. */
  sqlite?: SQLite.Database;
  /** PostgreSQL only: the pool, for LISTEN/NOTIFY. */
  pool?: pg.Pool;
}

export function dialectOf(url: string): Dialect {
  return /^postgres(ql)?:\/\//.test(url) ? 'postgres' : 'sqlite';
}

// Return BIGINT/COUNT as numbers (our values fit in 2^53).
pg.types.setTypeParser(20, (v) => Number(v));

export function openDatabase<DB>(opts: OpenOptions): OpenedDatabase<DB> {
  if (dialectOf(opts.url) === 'postgres') {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10 });
    return { db: new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }), dialect: 'postgres', pool };
  }
  const file = opts.url.replace(/^sqlite:(\/\/)?/, '');
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  // WAL lets readers run beside the single writer; NORMAL sync is durable across process crashes.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  return { db: new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) }), dialect: 'sqlite', sqlite };
}
