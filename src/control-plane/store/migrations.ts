// Versioned schema migrations, run at start by Kysely's Migrator. Each migration is written
// once per dialect only where types differ (binary columns); append new ones, never edit old ones.
import { type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import { DIALECTS, type Dialect } from './connect.js';
import { OutpostError } from '../../shared/errors.js';

function migrationsFor(dialect: Dialect): Record<string, Migration> {
  const bytes = DIALECTS[dialect].binaryType;
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('agents')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('hostname', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('task_queue', 'text', (c) => c.notNull())
          .addColumn('metadata', 'text', (c) => c.notNull())
          .addColumn('registered_at', 'bigint', (c) => c.notNull())
          .addColumn('last_heartbeat_at', 'bigint', (c) => c.notNull())
          .addColumn('code_servers', 'text', (c) => c.notNull())
          .addColumn('running_run_ids', 'text', (c) => c.notNull())
          .addColumn('errors', 'text', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('revoked_at', 'bigint')
          .addColumn('last_used_at', 'bigint')
          .execute();

        await db.schema
          .createTable('code_locations')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('spec', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('snapshot', 'text')
          .addColumn('load_error', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();

        await db.schema
          .createTable('work_items')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('run_id', 'text')
          .addColumn('dedupe_key', 'text', (c) => c.unique())
          .addColumn('lease_owner', 'text')
          .addColumn('lease_expires_at', 'bigint')
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('max_attempts', 'integer', (c) => c.notNull())
          .addColumn('workflow_id', 'text')
          .addColumn('result', 'text')
          .addColumn('error', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('work_items_status').on('work_items').columns(['status', 'created_at']).execute();
        await db.schema.createIndex('work_items_run').on('work_items').column('run_id').execute();

        await db.schema
          .createTable('runs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('job', 'text', (c) => c.notNull())
          .addColumn('location', 'text', (c) => c.notNull())
          .addColumn('run_config', 'text', (c) => c.notNull())
          .addColumn('tags', 'text', (c) => c.notNull())
          .addColumn('dedupe_key', 'text', (c) => c.unique())
          .addColumn('agent_id', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('launched_at', 'bigint')
          .addColumn('started_at', 'bigint')
          .addColumn('ended_at', 'bigint')
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('last_seq', 'integer', (c) => c.notNull())
          .addColumn('engine_seq', 'bigint', (c) => c.notNull())
          .addColumn('stdout_bytes', 'bigint', (c) => c.notNull())
          .addColumn('stderr_bytes', 'bigint', (c) => c.notNull())
          .addColumn('log_bytes_stored', 'bigint', (c) => c.notNull())
          .addColumn('logs_truncated', 'integer', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('runs_status').on('runs').columns(['status', 'id']).execute();
        await db.schema.createIndex('runs_job').on('runs').columns(['location', 'job', 'id']).execute();

        await db.schema
          .createTable('run_events')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('timestamp', 'double precision', (c) => c.notNull())
          .addColumn('step_key', 'text')
          .addColumn('level', 'text')
          .addColumn('message', 'text')
          .addColumn('data', 'text')
          .addColumn('error', 'text')
          .addPrimaryKeyConstraint('run_events_pk', ['run_id', 'seq'])
          .execute();

        await db.schema
          .createTable('compute_logs')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('stream', 'text', (c) => c.notNull())
          .addColumn('offset', 'bigint', (c) => c.notNull())
          .addColumn('data', sql.raw(bytes), (c) => c.notNull())
          .addPrimaryKeyConstraint('compute_logs_pk', ['run_id', 'stream', 'offset'])
          .execute();

        await db.schema
          .createTable('instigators')
          .addColumn('location', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('state', 'text')
          .addColumn('cursor', 'text')
          .addColumn('last_tick_at', 'bigint')
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('instigators_pk', ['location', 'kind', 'name'])
          .execute();

        await db.schema
          .createTable('ticks')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('location', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('tick_time', 'bigint', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('work_item_id', 'text')
          .addColumn('run_ids', 'text', (c) => c.notNull())
          .addColumn('skip_reason', 'text')
          .addColumn('error', 'text')
          .addColumn('cursor', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('ended_at', 'bigint')
          .execute();
        await db.schema
          .createIndex('ticks_owner')
          .on('ticks')
          .columns(['location', 'kind', 'name', 'tick_time'])
          .execute();
        await db.schema.createIndex('ticks_work_item').on('ticks').column('work_item_id').execute();
      },
    },
    // Agents are bound to the token that registered them, so another token cannot act as them.
    // Rows from before this migration have no token yet; the first token to use them binds them.
    '0002_agent_token': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('agents').addColumn('token_id', 'text').execute();
        await db.schema.createIndex('agents_token').on('agents').column('token_id').execute();
      },
    },
    '0003_event_sequence': { up: (db) => migrateEventSequence(db) },
    // A run's started_at/ended_at are its RUN_START and terminal events' own times (run-timing.ts),
    // no longer when the control plane heard of them: rewrite stored runs from their events.
    '0004_run_times_from_events': {
      async up(db: Kysely<unknown>) {
        const at = (types: string) =>
          sql`(SELECT CAST(ROUND(MIN(e.timestamp)) AS BIGINT) FROM run_events e
                WHERE e.run_id = runs.id AND e.type IN (${sql.raw(types)}))`;
        const start = at(`'RUN_START'`);
        const end = at(`'RUN_SUCCESS', 'RUN_FAILURE', 'RUN_CANCELED'`);
        await sql`UPDATE runs SET started_at = ${start}`.execute(db);
        await sql`UPDATE runs SET ended_at = coalesce(${end}, ended_at)
                   WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED')`.execute(db);
      },
    },
    // User roles (tokens from before roles were all-powerful, so they become ADMIN), server-side
    // browser sessions, one-time sign-in codes, and the audit log.
    '0006_roles_sessions_audit': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('tokens').addColumn('role', 'text').execute();
        await db.schema.alterTable('tokens').addColumn('created_by', 'text').execute();
        await sql`UPDATE tokens SET role = 'ADMIN' WHERE kind = 'user'`.execute(db);
        await db.schema
          .createTable('sessions')
          .addColumn('id_hash', 'text', (c) => c.primaryKey())
          .addColumn('token_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('revoked_at', 'bigint')
          .execute();
        await db.schema.createIndex('sessions_token').on('sessions').column('token_id').execute();
        await db.schema
          .createTable('signin_codes')
          .addColumn('code_hash', 'text', (c) => c.primaryKey())
          .addColumn('token_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('used_at', 'bigint')
          .execute();
        await db.schema
          .createTable('audit_log')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('actor_token_id', 'text')
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text')
          .addColumn('outcome', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
      },
    },
    // (name, version) names one deployment for ever: a location deleted and deployed again must
    // not reuse a version, or agents keep serving the deleted code as that same version.
    '0010_location_version_floors': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('location_version_floors')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('version', 'integer', (c) => c.notNull())
          .execute();
      },
    },
    // Asset events (Dagster materializations and observations) by asset key, so a location's
    // assets show their latest materialization without scanning run_events. Keyed by the
    // event's (run, worker seq): written idempotently whenever a batch carrying one is appended.
    '0012_asset_events': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('asset_events')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('worker_seq', 'bigint', (c) => c.notNull())
          .addColumn('location', 'text', (c) => c.notNull())
          .addColumn('asset_key', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('timestamp', 'double precision', (c) => c.notNull())
          .addPrimaryKeyConstraint('asset_events_pk', ['run_id', 'worker_seq'])
          .execute();
        await db.schema
          .createIndex('asset_events_latest')
          .on('asset_events')
          .columns(['location', 'asset_key', 'type', 'timestamp'])
          .execute();
      },
    },
    // An agent token may be created as another's successor (rotation): only a successor takes
    // over the agent ids bound to the token it replaces, revoked or not (store/agents.ts).
    '0014_token_successor': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('tokens').addColumn('replaces', 'text').execute();
      },
    },
    // Asset check evaluations keep their check's name, outcome, severity and metadata in
    // asset_events, so each check's latest evaluation is one index seek (asset_events_checks),
    // all of a location's in one query, instead of a read of run_events per evaluation. Rows
    // stored before take them from their event; an ENGINE event indexed without a check in its
    // data (0012 took any with an asset key) goes.
    '0015_asset_check_columns': {
      async up(db: Kysely<unknown>) {
        for (const [name, type] of [
          ['check_name', 'text'],
          ['check_passed', 'integer'],
          ['check_severity', 'text'],
          ['check_metadata', 'text'],
        ] as const) {
          await db.schema.alterTable('asset_events').addColumn(name, type).execute();
        }
        await db.schema
          .createIndex('asset_events_checks')
          .on('asset_events')
          .columns(['location', 'type', 'asset_key', 'check_name', 'timestamp', 'run_id', 'worker_seq'])
          .execute();
        await backfillCheckColumns(db);
      },
    },
    // A schedule tick's item is claimed only before its schedule's next tick comes due
    // (work_items.claim_until): after that the daemon skips it, so an agent back from an outage
    // does not begin a tick the next one supersedes moments later (two runs for one outage).
    '0016_work_item_claim_until': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('work_items').addColumn('claim_until', 'bigint').execute();
      },
    },
  };
}

/** 0015: each stored check evaluation's columns from its run event's data. */
async function backfillCheckColumns(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ run_id: string; worker_seq: number | string; data: string | null }>`
    SELECT a.run_id, a.worker_seq, e.data FROM asset_events a
    LEFT JOIN run_events e ON e.run_id = a.run_id AND e.worker_seq = a.worker_seq
    WHERE a.type = 'ASSET_CHECK_EVALUATION'`.execute(db);
  for (const r of rows) {
    const where = sql`run_id = ${r.run_id} AND worker_seq = ${Number(r.worker_seq)}`;
    const check = checkColumnsAt0015(r.data === null ? null : (JSON.parse(r.data) as unknown));
    if (!check) {
      await sql`DELETE FROM asset_events WHERE ${where}`.execute(db);
      continue;
    }
    await sql`
      UPDATE asset_events SET check_name = ${check.check_name}, check_passed = ${check.check_passed},
        check_severity = ${check.check_severity}, check_metadata = ${check.check_metadata}
      WHERE ${where}`.execute(db);
  }
}

/**
 * 0015's own copy of what a check evaluation's event data meant when it was written (the store's
 * checkColumnsOf, store/asset-events.ts, at that time): a migration must do the same on every
 * database it ever runs on, whatever the store later reads into an event.
 */
function checkColumnsAt0015(
  data: unknown,
): { check_name: string; check_passed: number; check_severity: string; check_metadata: string | null } | null {
  if (typeof data !== 'object' || data === null) return null;
  const { assetCheck, metadata } = data as { assetCheck?: unknown; metadata?: unknown };
  if (typeof assetCheck !== 'object' || assetCheck === null) return null;
  const check = assetCheck as { name?: unknown; passed?: unknown; severity?: unknown };
  if (typeof check.name !== 'string' || check.name === '') return null;
  return {
    check_name: check.name,
    check_passed: check.passed === true ? 1 : 0,
    check_severity: typeof check.severity === 'string' ? check.severity : 'ERROR',
    check_metadata: typeof metadata === 'object' && metadata !== null ? JSON.stringify(metadata) : null,
  };
}

/**
 * One public event sequence per run. Until now ENGINE events took seqs from 1,000,000,000 up;
 * now run_events holds every visible event under a public `seq` (1..N, no gap) and worker events
 * keep their own seq in `worker_seq`, the shipping idempotency key. Stored worker events keep
 * their seq; ENGINE events are renumbered after them, in their order; worker events stored past
 * a gap move to run_events_pending until it fills.
 */
async function migrateEventSequence(db: Kysely<unknown>): Promise<void> {
  const base = 1_000_000_000; // the retired ENGINE_SEQ_BASE
  // Typed loosely: the builder's column-name parameter would otherwise pin the PK columns.
  const eventColumns = (t: CreateTableBuilder<string, string>): CreateTableBuilder<string, string> =>
    t
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('timestamp', 'double precision', (c) => c.notNull())
      .addColumn('step_key', 'text')
      .addColumn('level', 'text')
      .addColumn('message', 'text')
      .addColumn('data', 'text')
      .addColumn('error', 'text');
  await eventColumns(
    db.schema
      .createTable('run_events_v2')
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('worker_seq', 'bigint'),
  )
    .addPrimaryKeyConstraint('run_events_seq_pk', ['run_id', 'seq'])
    .execute();
  await eventColumns(
    db.schema
      .createTable('run_events_pending')
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('worker_seq', 'bigint', (c) => c.notNull()),
  )
    .addPrimaryKeyConstraint('run_events_pending_pk', ['run_id', 'worker_seq'])
    .execute();
  const cols = sql.raw('type, timestamp, step_key, level, message, data, error');
  const ecols = sql.raw('e.type, e.timestamp, e.step_key, e.level, e.message, e.data, e.error');
  await sql`
    INSERT INTO run_events_v2 (run_id, seq, worker_seq, ${cols})
    SELECT e.run_id, e.seq, e.seq, ${ecols}
    FROM run_events e JOIN runs r ON r.id = e.run_id WHERE e.seq <= r.last_seq`.execute(db);
  await sql`
    INSERT INTO run_events_v2 (run_id, seq, worker_seq, ${cols})
    SELECT e.run_id, r.last_seq + ROW_NUMBER() OVER (PARTITION BY e.run_id ORDER BY e.seq), NULL, ${ecols}
    FROM run_events e JOIN runs r ON r.id = e.run_id WHERE e.seq >= ${base}`.execute(db);
  await sql`
    INSERT INTO run_events_pending (run_id, worker_seq, ${cols})
    SELECT e.run_id, e.seq, ${ecols}
    FROM run_events e JOIN runs r ON r.id = e.run_id WHERE e.seq > r.last_seq AND e.seq < ${base}`.execute(db);
  await db.schema.dropTable('run_events').execute();
  await db.schema.alterTable('run_events_v2').renameTo('run_events').execute();
  await db.schema.alterTable('runs').renameColumn('engine_seq', 'event_seq').execute();
  await sql`
    UPDATE runs SET event_seq = last_seq + (
      SELECT COUNT(*) FROM run_events e WHERE e.run_id = runs.id AND e.worker_seq IS NULL)`.execute(db);
}

/**
 * Migrations are numbered per branch of work (0004, 0006, ...) and may land in any order, so a
 * database that already ran a later number still takes an earlier one merged afterwards.
 */
const ALLOW_UNORDERED = true;

class InlineProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrationsFor(this.dialect));
  }
}

/** Brings the database to `name` exactly (tests of a migration start from the version before it). */
export async function migrateTo(db: Kysely<unknown>, dialect: Dialect, name: string): Promise<void> {
  const { error } = await new Migrator({
    db,
    provider: new InlineProvider(dialect),
    allowUnorderedMigrations: ALLOW_UNORDERED,
  }).migrateTo(name);
  if (error) throw error instanceof Error ? error : new Error(`migration to ${name} failed: ${JSON.stringify(error)}`);
}

/** Migrations the database ran that this build does not have; none when it cannot be read. */
async function migrationsNotIn(db: Kysely<unknown>, dialect: Dialect): Promise<string[]> {
  const known = migrationsFor(dialect);
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    return rows.map((r) => r.name).filter((name) => !(name in known));
  } catch {
    return [];
  }
}

/** Brings the database to the latest version; throws a coded error naming the failed step. */
export async function migrateToLatest(db: Kysely<unknown>, dialect: Dialect): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new InlineProvider(dialect),
    allowUnorderedMigrations: ALLOW_UNORDERED,
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  // Failing before any step ran (no connection, refused login) is the database being out of
  // reach: rethrown as is, so that Store.open reports it with its dialect's code and hint. But
  // a database a newer build migrated is reached all right: that is said instead.
  if (error) {
    if (!failed) {
      const unknown = await migrationsNotIn(db, dialect);
      if (unknown.length) {
        throw new OutpostError('DATABASE_TOO_NEW', {
          detail: `it ran migration ${unknown.join(', ')}, which this build of Outpost does not have`,
          cause: error,
        });
      }
      throw error instanceof Error ? error : new Error(JSON.stringify(error));
    }
    throw new OutpostError('INTERNAL', {
      detail: `database migration ${failed.migrationName} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      cause: error,
    });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
