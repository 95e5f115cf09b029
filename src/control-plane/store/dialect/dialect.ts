// What differs between SQLite and PostgreSQL, as one small interface with two implementations
// (sqlite-dialect.ts, postgres-dialect.ts), so shared store code asks for a capability instead
// of testing which database it is on. Picking the implementation from the URL is connect.ts.
import { sql, type Kysely, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import type { ErrorName } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';
import type { AppendEventsResult } from '../run-events.js';
import type { Row } from '../run-event-conflicts.js';
import type { Database, WorkItemsTable } from '../schema.js';
import type { Signals } from '../signals.js';
import type { Store } from '../store.js';

export type Dialect = 'sqlite' | 'postgres';

export interface OpenOptions {
  /** `postgres://user:pass@host:5432/db`, `sqlite:.outpost/outpost.db`, or a file path. */
  url: string;
  /** PostgreSQL pool size; default 10. */
  poolSize?: number;
  /** Told of errors no caller is waiting on (PostgreSQL: an idle pooled connection the server ended). */
  logger?: Logger;
}

export interface OpenedDatabase<DB> {
  db: Kysely<DB>;
  dialect: Dialect;
  /** The open connection's dialect-specific operations. */
  ops: StoreDialect;
}

/** A dialect before a connection: what migrations need, and how to open one. */
export interface DialectFactory {
  readonly name: Dialect;
  /** Column type of binary data (compute-log chunks). */
  readonly binaryType: string;
  open<DB>(opts: OpenOptions): OpenedDatabase<DB>;
}

/** A dialect bound to its open connection (SQLite handle or PostgreSQL pool). */
export interface StoreDialect {
  readonly name: Dialect;
  /** The error a failed open or migration becomes (PostgreSQL: unreachable, or refusing us). */
  openErrorCode(err: unknown): ErrorName;
  /**
   * The error a failed call becomes when the database could not serve it for now: it could not
   * be reached (PostgreSQL: refused, reset, ended by a server shutdown, connect timeout;
   * SQLite is a file this process holds open: never unreachable), or it has no space left to
   * write (STORE_DISK_FULL). Undefined when the database answered about the call itself.
   */
  unavailableCode(err: unknown): ErrorName | undefined;
  /** Cross-process wake-ups (PostgreSQL LISTEN/NOTIFY); SQLite has one process per file. */
  listen(signals: Signals, url: string): Promise<void>;
  /** Runs `fn` in a transaction that holds the write lock from its first statement on. */
  transaction<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  /** A read inside a transaction that the transaction then writes: row lock where rows lock. */
  lockForUpdate<DB, TB extends keyof DB, O>(q: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O>;
  /** A read inside a transaction whose rows must not change until it ends (a check its write rests on). */
  lockForShare<DB, TB extends keyof DB, O>(q: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O>;
  /** One atomic claim of up to `limit` QUEUED items claimable at `now` (claimable), oldest first, with `set` applied. */
  claimQueued(db: Kysely<Database>, set: RawBuilder<unknown>, limit: number, now: number): Promise<WorkItemsTable[]>;
  /** The batched event ingest of run-events.ts (`writer` checked in its transaction), written for this database. */
  appendRunEvents(store: Store, runId: string, rows: Row[], writer?: string): Promise<AppendEventsResult>;
}

/** A QUEUED item an agent may claim at `now`: no claim_until, or one still ahead. */
export function claimable(now: number): RawBuilder<boolean> {
  return sql<boolean>`(claim_until IS NULL OR claim_until > ${now})`;
}
