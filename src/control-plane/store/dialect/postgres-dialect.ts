// PostgreSQL (pg pool): many writers, so reads that a transaction then writes take row locks,
// claims skip rows another replica holds, and wake-ups cross replicas by LISTEN/NOTIFY. The
// event ingest uses unnest() multi-row INSERTs (postgres-run-events.ts).
import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import type { WorkItemsTable } from '../schema.js';
import { claimable, type DialectFactory, type OpenOptions, type StoreDialect } from './dialect.js';
import { pgModule } from './pg-module.js';
import { appendRunEventsPostgres } from './postgres-run-events.js';

/**
 * SQLSTATEs of a server that answered and said no: its sign-in (class 28), a database that does
 * not exist (3D000), a schema it lacks or may not create in (3F000, 42501). Any other failure to
 * open is the server not reached.
 */
function isRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (code.startsWith('28') || ['3D000', '3F000', '42501'].includes(code));
}

/**
 * How long opening a pooled connection may take before the query fails. pg's default is no limit,
 * so a server that accepts connections but never answers held every query (the daemon's pass,
 * /readyz) forever. Five seconds is far above a loopback or LAN connect.
 */
export const PG_CONNECT_TIMEOUT_MS = 5_000;

/** Socket errors of a server not reached, or gone mid-call. */
const UNREACHED_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** pg's own words for a connection that ended or never opened in time (it sets no code). */
const UNREACHED_WORDS = /^(Connection terminated|timeout exceeded when trying to connect)/;

/**
 * A call that failed because the server could not be reached: a socket error, pg's words for
 * a lost or timed-out connection, SQLSTATE class 08 (connection exception), or a server that
 * is shutting down or starting up (57P01-57P03). Follows `cause` (pg wraps a connect timeout).
 */
export function isUnreachable(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (UNREACHED_ERRNOS.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)))
      return true;
    if (e instanceof Error && UNREACHED_WORDS.test(e.message)) return true;
  }
  return false;
}

function postgresOps(pool: pg.Pool): StoreDialect {
  return {
    name: 'postgres',
    openErrorCode: (err) => (isRefusal(err) ? 'POSTGRES_REFUSED' : 'POSTGRES_UNAVAILABLE'),
    // SQLSTATE 53100 disk_full: the server's data directory has no room; the write was rolled back.
    unavailableCode: (err) =>
      isUnreachable(err)
        ? 'POSTGRES_UNAVAILABLE'
        : (err as { code?: unknown } | null)?.code === '53100'
          ? 'STORE_DISK_FULL'
          : undefined,
    listen: (signals, url) => signals.listen(url, pool),
    transaction: (db, fn) => db.transaction().execute(fn),
    lockForUpdate: (q) => q.forUpdate(),
    lockForShare: (q) => q.forShare(),
    // The pick is a MATERIALIZED CTE, run once. As `id IN (SELECT ... LIMIT n FOR UPDATE SKIP
    // LOCKED)` the planner may re-run the subquery and claim more than `limit` items (seen in
    // the work-queue test: 4 claimed for a limit of 3).
    claimQueued: async (db, set, limit, now) =>
      (
        await sql<WorkItemsTable>`
    WITH picked AS MATERIALIZED (
      SELECT id FROM work_items WHERE status = 'QUEUED' AND ${claimable(now)}
       ORDER BY created_at, id LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    UPDATE work_items SET ${set}
      FROM picked
     WHERE work_items.id = picked.id AND work_items.status = 'QUEUED'
    RETURNING work_items.*`.execute(db)
      ).rows,
    appendRunEvents: appendRunEventsPostgres,
  };
}

export const postgresDialect: DialectFactory = {
  name: 'postgres',
  binaryType: 'bytea',
  open<DB>(opts: OpenOptions) {
    const pool = new (pgModule().Pool)({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    });
    // A server that stops or restarts ends every pooled connection, and pg emits that as an
    // 'error' event: on the pool for an idle one, on the client for one checked out (mid-query or
    // mid-transaction). Unheard, either event killed the control plane. The call using the
    // connection fails with the same error; the pool drops the client and the next call opens a
    // new connection (POSTGRES_UNAVAILABLE while the server is away).
    pool.on('error', (err) =>
      opts.logger?.warn({ err: err.message }, 'idle PostgreSQL connection closed by the server'),
    );
    pool.on('connect', (client) => client.on('error', () => undefined));
    return {
      db: new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }),
      dialect: 'postgres',
      ops: postgresOps(pool),
    };
  },
};
