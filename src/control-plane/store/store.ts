// The metadata store: one connection (SQLite file or PostgreSQL pool), migrated at open, with
// the clock, limits and wake-up signals every repository function needs.
import type { Kysely } from 'kysely';
import type { Logger } from '../../shared/logger.js';
import { OutpostError, isOutpostError } from '../../shared/errors.js';
import { openDatabase } from './connect.js';
import type { StoreDialect } from './dialect/dialect.js';
import { migrateToLatest } from './migrations.js';
import type { Database } from './schema.js';
import { Signals } from './signals.js';

export interface StoreLimits {
  /** Stored compute-log bytes per run (both streams); beyond it data is dropped with a marker. Default 50 MB. */
  computeLogCapBytes: number;
  /** Claims per work item before it fails with WORK_ITEM_EXHAUSTED. Default 5. */
  maxAttempts: number;
  /** How long a claim is held before the item returns to the queue. Default 60 s. */
  leaseMs: number;
  /** Heartbeat interval told to agents; 3 missed = unhealthy. Default 10 s. */
  heartbeatIntervalMs: number;
  /** How long a launch waits for an agent to answer a code-location query (a partition's config). Default 10 s. */
  locationQueryWaitMs: number;
}

/**
 * What any caller (a VIEWER, an agent, /metrics without a token) is told of a store that failed:
 * the failure's code (an errno, a SQLSTATE, SQLITE_FULL), never the database's words, which
 * name its host and port, its user or its files. The operator's log has them (the error's cause:
 * /readyz and the daemon log it).
 */
function callerDetail(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) return code;
  }
  return undefined;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = {
  computeLogCapBytes: 50 * 1024 * 1024,
  maxAttempts: 5,
  leaseMs: 60_000,
  heartbeatIntervalMs: 10_000,
  locationQueryWaitMs: 10_000,
};

export interface StoreOptions {
  /** `sqlite:<path>`, a file path, or `postgres://...`. */
  url: string;
  clock?: () => number;
  logger?: Logger;
  limits?: Partial<StoreLimits>;
}

export class Store {
  readonly signals: Signals;
  readonly limits: StoreLimits;
  readonly clock: () => number;
  private closed = false;

  private constructor(
    readonly db: Kysely<Database>,
    /** What differs between SQLite and PostgreSQL (dialect/). */
    readonly dialect: StoreDialect,
    opts: StoreOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.limits = { ...DEFAULT_STORE_LIMITS, ...opts.limits };
    this.signals = new Signals(opts.logger);
  }

  static async open(opts: StoreOptions): Promise<Store> {
    const opened = openDatabase<Database>({ url: opts.url, ...(opts.logger ? { logger: opts.logger } : {}) });
    const store = new Store(opened.db, opened.ops, opts);
    try {
      await migrateToLatest(opened.db as unknown as Kysely<unknown>, opened.dialect);
      await opened.ops.listen(store.signals, opts.url);
    } catch (err) {
      await opened.db.destroy().catch(() => undefined);
      if (err instanceof OutpostError) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      throw new OutpostError(opened.ops.openErrorCode(err), {
        detail: msg,
        cause: err,
      });
    }
    return store;
  }

  /**
   * Runs `fn` in a transaction that takes the write lock at its start (SQLite: BEGIN IMMEDIATE,
   * so two processes that read then write wait for each other instead of failing SQLITE_BUSY).
   */
  transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.dialect.transaction(this.db, fn);
  }

  /**
   * What a failed call means when it is the store, not the call, that failed: STORE_CLOSED once
   * `close` began, POSTGRES_UNAVAILABLE when the server was not reached, STORE_DISK_FULL when
   * there is no room to write (with the database's words as the detail). Undefined when the database answered (a constraint, a bad value): that error is
   * the caller's own.
   */
  unavailableError(err: unknown): OutpostError | undefined {
    if (
      isOutpostError(err, 'STORE_CLOSED') ||
      isOutpostError(err, 'POSTGRES_UNAVAILABLE') ||
      isOutpostError(err, 'STORE_DISK_FULL')
    )
      return err;
    const name = this.closed ? 'STORE_CLOSED' : this.dialect.unavailableCode(err);
    if (!name) return undefined;
    return new OutpostError(name, { detail: callerDetail(err), cause: err });
  }

  now(): number {
    return this.clock();
  }

  /** A cheap round trip, for /readyz. */
  async ping(): Promise<void> {
    await this.db.selectFrom('runs').select('id').limit(1).execute();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.signals.close();
    await this.db.destroy();
  }
}
