// PostgreSQL (pg pool): many writers, so reads that a transaction then writes take row locks,
// claims skip rows another replica holds, and wake-ups cross replicas by LISTEN/NOTIFY. The
// event ingest uses unnest() multi-row INSERTs (postgres-run-events.ts).
import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import type { WorkItemsTable } from '../schema.js';
import type { DialectFactory, OpenOptions, StoreDialect } from './dialect.js';
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

function postgresOps(pool: pg.Pool): StoreDialect {
  return {
    name: 'postgres',
    openErrorCode: (err) => (isRefusal(err) ? 'POSTGRES_REFUSED' : 'POSTGRES_UNAVAILABLE'),
    listen: (signals, url) => signals.listen(url, pool),
    transaction: (db, fn) => db.transaction().execute(fn),
    lockForUpdate: (q) => q.forUpdate(),
    // The pick is a MATERIALIZED CTE, run once. As `id IN (SELECT ... LIMIT n FOR UPDATE SKIP
    // LOCKED)` the planner may re-run the subquery and claim more than `limit` items (seen in
    // the work-queue test: 4 claimed for a limit of 3).
    claimQueued: async (db, set, limit) =>
      (
        await sql<WorkItemsTable>`
    WITH picked AS MATERIALIZED (
      SELECT id FROM work_items WHERE status = 'QUEUED' ORDER BY created_at, id LIMIT ${limit} FOR UPDATE SKIP LOCKED)
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
    const pool = new (pgModule().Pool)({ connectionString: opts.url, max: opts.poolSize ?? 10 });
    return {
      db: new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }),
      dialect: 'postgres',
      ops: postgresOps(pool),
    };
  },
};
