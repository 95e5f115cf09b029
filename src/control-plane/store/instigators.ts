// Schedule and sensor state (running/stopped override, cursor, last tick) and tick history.
import { newId } from '../../shared/ids.js';
import { cutMessage } from '../../shared/message-limits.js';
import { FIXED_INPUT_LIMITS } from '../limits.js';
import type { InstigatorsTable, TicksTable } from './schema.js';
import type { Store } from './store.js';
import type { Exec } from './work-items.js';

export type InstigatorKind = 'SCHEDULE' | 'SENSOR';
export type InstigatorState = 'RUNNING' | 'STOPPED';

export interface TickView {
  id: string;
  tickTime: number;
  status: TicksTable['status'];
  runIds: string[];
  skipReason: string | null;
  error: string | null;
  cursor: string | null;
  workItemId: string | null;
  createdAt: number;
  endedAt: number | null;
}

export async function getInstigator(
  exec: Exec,
  location: string,
  kind: InstigatorKind,
  name: string,
): Promise<InstigatorsTable | undefined> {
  return exec
    .selectFrom('instigators')
    .selectAll()
    .where('location', '=', location)
    .where('kind', '=', kind)
    .where('name', '=', name)
    .executeTakeFirst();
}

export async function listInstigators(exec: Exec): Promise<InstigatorsTable[]> {
  return exec.selectFrom('instigators').selectAll().execute();
}

/** A deleted location's schedule and sensor state (its ticks stay, as history). */
export async function deleteInstigatorsOf(exec: Exec, location: string): Promise<void> {
  await exec.deleteFrom('instigators').where('location', '=', location).execute();
}

/** Upserts some columns of an instigator row. */
export async function updateInstigator(
  exec: Exec,
  store: Store,
  key: { location: string; kind: InstigatorKind; name: string },
  set: Partial<Pick<InstigatorsTable, 'state' | 'cursor' | 'last_tick_at'>>,
): Promise<void> {
  const now = store.now();
  await exec
    .insertInto('instigators')
    .values({ ...key, state: null, cursor: null, last_tick_at: null, ...set, updated_at: now })
    .onConflict((oc) => oc.columns(['location', 'kind', 'name']).doUpdateSet({ ...set, updated_at: now }))
    .execute();
}

export async function insertTick(
  exec: Exec,
  store: Store,
  t: {
    location: string;
    kind: InstigatorKind;
    name: string;
    tickTime: number;
    workItemId: string;
    cursor?: string | null;
  },
): Promise<string> {
  const now = store.now();
  const id = newId('tick', now);
  await exec
    .insertInto('ticks')
    .values({
      id,
      location: t.location,
      kind: t.kind,
      name: t.name,
      tick_time: t.tickTime,
      status: 'STARTED',
      work_item_id: t.workItemId,
      run_ids: '[]',
      skip_reason: null,
      error: null,
      cursor: t.cursor ?? null,
      created_at: now,
      ended_at: null,
    })
    .execute();
  return id;
}

/**
 * Sets a RUNNING instigator (stored RUNNING, or no stored state and `defaultRunning`) STOPPED;
 * returns whether this call did (false: it was stopped already, say by another daemon).
 */
export async function stopRunningInstigator(
  exec: Exec,
  store: Store,
  key: { location: string; kind: InstigatorKind; name: string },
  defaultRunning: boolean,
): Promise<boolean> {
  const now = store.now();
  // A row to update: one with no stored state reads as its default.
  await exec
    .insertInto('instigators')
    .values({ ...key, state: null, cursor: null, last_tick_at: null, updated_at: now })
    .onConflict((oc) => oc.columns(['location', 'kind', 'name']).doNothing())
    .execute();
  const res = await exec
    .updateTable('instigators')
    .set({ state: 'STOPPED', updated_at: now })
    .where('location', '=', key.location)
    .where('kind', '=', key.kind)
    .where('name', '=', key.name)
    .where((eb) =>
      defaultRunning ? eb.or([eb('state', '=', 'RUNNING'), eb('state', 'is', null)]) : eb('state', '=', 'RUNNING'),
    )
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** A tick that was skipped without an evaluation (no work item), saying why. */
export async function insertSkippedTick(
  exec: Exec,
  store: Store,
  t: { location: string; kind: InstigatorKind; name: string; tickTime: number; skipReason: string },
): Promise<void> {
  const now = store.now();
  await exec
    .insertInto('ticks')
    .values({
      id: newId('tick', now),
      location: t.location,
      kind: t.kind,
      name: t.name,
      tick_time: t.tickTime,
      status: 'SKIPPED',
      work_item_id: null,
      run_ids: '[]',
      skip_reason: tickMessage(t.skipReason),
      error: null,
      cursor: null,
      created_at: now,
      ended_at: now,
    })
    .execute();
}

/** How long finished ticks are kept (the daemon's retention duty prunes older ones). */
export interface TickRetention {
  /** SUCCESS and FAILURE ticks (and SKIPPED ones, if `skippedMs` is longer). */
  finishedMs: number;
  /** SKIPPED ticks: the bulk of a fast sensor's history, and the least worth keeping. */
  skippedMs: number;
}

/** Default retention of finished ticks: 30 days (--tick-retention-days). */
export const DEFAULT_TICK_RETENTION_MS = 30 * 86_400_000;
/** Default retention of SKIPPED ticks: 7 days (--skipped-tick-retention-days). */
export const DEFAULT_SKIPPED_TICK_RETENTION_MS = 7 * 86_400_000;

/** Rows one prune statement deletes: a large first prune never holds the database for long. */
const PRUNE_BATCH = 5_000;

/**
 * Deletes finished ticks created before their retention; returns how many. A tick's id starts
 * with its creation time (shared/ids.ts), so the age test is a range on the primary key and
 * needs no index of its own. STARTED ticks (an evaluation in flight) are never pruned.
 */
export async function pruneTicks(store: Store, retention: TickRetention, now = store.now()): Promise<number> {
  const before = (ms: number) =>
    `tick_${Math.max(0, now - ms)
      .toString(32)
      .padStart(10, '0')}`;
  const passes: [string, TicksTable['status'][]][] = [
    [before(retention.finishedMs), ['SUCCESS', 'FAILURE']],
    [before(retention.skippedMs), ['SKIPPED']],
  ];
  let deleted = 0;
  for (const [bound, statuses] of passes) {
    for (;;) {
      const res = await store.db
        .deleteFrom('ticks')
        .where(
          'id',
          'in',
          store.db
            .selectFrom('ticks')
            .select('id')
            .where('id', '<', bound)
            .where('status', 'in', statuses)
            .orderBy('id')
            .limit(PRUNE_BATCH),
        )
        .executeTakeFirst();
      const n = Number(res.numDeletedRows);
      deleted += n;
      if (n < PRUNE_BATCH) break;
    }
  }
  return deleted;
}

/** `text` within maxTickMessageLength characters: a longer one is cut, the cut naming the limit. */
function tickMessage(text: string): string {
  return cutMessage(text, FIXED_INPUT_LIMITS.maxTickMessageLength, 'maxTickMessageLength');
}

export async function finishTickForItem(
  exec: Exec,
  store: Store,
  workItemId: string,
  end: {
    status: 'SUCCESS' | 'SKIPPED' | 'FAILURE';
    runIds?: string[];
    skipReason?: string;
    error?: string;
    cursor?: string | null;
  },
): Promise<void> {
  await exec
    .updateTable('ticks')
    .set({
      status: end.status,
      run_ids: JSON.stringify(end.runIds ?? []),
      skip_reason: end.skipReason === undefined ? null : tickMessage(end.skipReason),
      error: end.error === undefined ? null : tickMessage(end.error),
      ...(end.cursor !== undefined ? { cursor: end.cursor } : {}),
      ended_at: store.now(),
    })
    .where('work_item_id', '=', workItemId)
    .where('status', '=', 'STARTED')
    .execute();
}

/** Whether an earlier evaluation of this instigator is still in flight (not finished). */
export async function hasOpenTick(exec: Exec, location: string, kind: InstigatorKind, name: string): Promise<boolean> {
  const row = await exec
    .selectFrom('ticks')
    .select('id')
    .where('location', '=', location)
    .where('kind', '=', kind)
    .where('name', '=', name)
    .where('status', '=', 'STARTED')
    .executeTakeFirst();
  return row !== undefined;
}

export async function listTicks(
  store: Store,
  location: string,
  kind: InstigatorKind,
  name: string,
  limit: number,
): Promise<TickView[]> {
  const rows = await store.db
    .selectFrom('ticks')
    .selectAll()
    .where('location', '=', location)
    .where('kind', '=', kind)
    .where('name', '=', name)
    .orderBy('tick_time', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    tickTime: Number(r.tick_time),
    status: r.status,
    runIds: JSON.parse(r.run_ids) as string[],
    skipReason: r.skip_reason,
    error: r.error,
    cursor: r.cursor,
    workItemId: r.work_item_id,
    createdAt: Number(r.created_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
  }));
}

/**
 * The instigator's row (created with no stored state if missing), locked until the transaction
 * ends (PostgreSQL FOR UPDATE; SQLite's transaction holds the write lock already).
 */
export async function lockInstigator(
  exec: Exec,
  store: Store,
  key: { location: string; kind: InstigatorKind; name: string },
): Promise<InstigatorsTable> {
  await exec
    .insertInto('instigators')
    .values({ ...key, state: null, cursor: null, last_tick_at: null, updated_at: store.now() })
    .onConflict((oc) => oc.columns(['location', 'kind', 'name']).doNothing())
    .execute();
  return store.dialect
    .lockForUpdate(
      exec
        .selectFrom('instigators')
        .selectAll()
        .where('location', '=', key.location)
        .where('kind', '=', key.kind)
        .where('name', '=', key.name),
    )
    .executeTakeFirstOrThrow();
}
