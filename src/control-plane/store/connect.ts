// Opens the metadata database: SQLite (better-sqlite3, the embedded default) or PostgreSQL (pg),
// chosen by the URL: `sqlite:<path>` / a bare path, or `postgres://...`. What differs between
// the two lives in dialect/ (one implementation each); this file only picks one.
import type { Dialect, DialectFactory, OpenedDatabase, OpenOptions } from './dialect/dialect.js';
import { postgresDialect } from './dialect/postgres-dialect.js';
import { sqliteDialect } from './dialect/sqlite-dialect.js';

export type { Dialect, OpenedDatabase, OpenOptions } from './dialect/dialect.js';

export const DIALECTS: Readonly<Record<Dialect, DialectFactory>> = { sqlite: sqliteDialect, postgres: postgresDialect };

export function dialectOf(url: string): Dialect {
  return /^postgres(ql)?:\/\//.test(url) ? 'postgres' : 'sqlite';
}

export function openDatabase<DB>(opts: OpenOptions): OpenedDatabase<DB> {
  return DIALECTS[dialectOf(opts.url)].open<DB>(opts);
}
