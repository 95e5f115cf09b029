// A schedule or sensor tick the daemon decided is due: its EVALUATE_* work item, its tick row
// and the instigator's last tick time, in one transaction (the dedupe key makes a second
// replica's attempt a no-op). The caller wakes pollers after commit when one was created.
// A schedule's earlier ticks whose evaluation never began (no agent claimed them, or no agent
// could start their workflow: Temporal away) are skipped in that transaction, so an outage's
// ticks do not all fire afterwards: the latest fires, as after the daemon's own downtime.
// A tick's item is claimable only until its schedule's next tick comes due (claim_until): an
// agent back between that moment and the daemon's pass that enqueues the next tick would begin
// the old tick, and both fire. The daemon skips such items each pass (supersedeStaleTicks), also
// those of a schedule stopped since, whose next tick never comes.
import type { ExpressionBuilder } from 'kysely';
import { errorCode } from '../../shared/errors.js';
import type { InstigatorKind } from '../store/instigators.js';
import {
  finishTickForItem,
  hasOpenTick,
  lockInstigator,
  insertSkippedTick,
  insertTick,
  stopRunningInstigator,
  updateInstigator,
} from '../store/instigators.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { enqueue, type Exec } from '../store/work-items.js';
import { markFailed } from '../store/work-queue.js';

interface TickKey {
  location: string;
  name: string;
}

export interface ScheduleTickStart {
  /** Whether the tick was new (an EVALUATE_SCHEDULE item was enqueued). */
  created: boolean;
  /** Tick times of earlier ticks skipped for it (their evaluation had not begun), oldest first. */
  superseded: number[];
}

/** `nextTickTime`: the schedule's next cron time after `tickTime`, if any (the item's claim_until). */
export async function startScheduleTick(
  store: Store,
  key: TickKey,
  { tickTime, nextTickTime }: { tickTime: number; nextTickTime: number | undefined },
  defaultRunning: boolean,
): Promise<ScheduleTickStart> {
  const ref = { ...key, kind: 'SCHEDULE' as InstigatorKind };
  return store.transaction(async (trx) => {
    // Stopped (or restarted, which moves last_tick_at to now) since the daemon's read: no tick.
    const row = await lockInstigator(trx, store, ref);
    const state = row.state ?? (defaultRunning ? 'RUNNING' : 'STOPPED');
    if (state !== 'RUNNING' || (row.last_tick_at != null && tickTime <= Number(row.last_tick_at)))
      return { created: false, superseded: [] };
    const { item, created } = await enqueue(trx, store, {
      kind: 'EVALUATE_SCHEDULE',
      payload: { location: key.location, schedule: key.name, tickTimeMs: tickTime },
      dedupeKey: `schedule:${key.location}:${key.name}:${tickTime}`,
      ...(nextTickTime !== undefined ? { claimUntil: nextTickTime } : {}),
    });
    let superseded: number[] = [];
    if (created) {
      superseded = await supersedeWaitingTicks(trx, store, key, tickTime);
      await insertTick(trx, store, { ...ref, tickTime, workItemId: item.id });
    }
    await updateInstigator(trx, store, ref, { last_tick_at: tickTime });
    return { created, superseded };
  });
}

/**
 * A schedule item whose evaluation has not begun at `now`: QUEUED (no agent claimed it, or its
 * lease lapsed), or CLAIMED under a lease that ran out with no workflow acknowledged. A live
 * claim (an agent starting it now) and an evaluation under way (ACKED) are left to finish.
 */
const notBegun = (now: number) => (eb: ExpressionBuilder<Database, 'work_items'>) =>
  eb.or([
    eb('work_items.status', '=', 'QUEUED'),
    eb.and([eb('work_items.status', '=', 'CLAIMED'), eb('work_items.lease_expires_at', '<=', now)]),
  ]);

const waitedFor = (status: string): string =>
  status === 'QUEUED' ? 'no agent began it' : "its agent's claim lapsed before it began";

/**
 * The item FAILS with TICK_SUPERSEDED (an agent that still starts its workflow completes nothing:
 * the item is finished) and its tick is SKIPPED, saying why; unless it began meanwhile.
 */
async function skipTick(trx: Exec, store: Store, itemId: string, message: string): Promise<boolean> {
  const code = errorCode('TICK_SUPERSEDED');
  if (!(await markFailed(trx, store, itemId, { code, message }, notBegun(store.now())))) return false;
  await finishTickForItem(trx, store, itemId, { status: 'SKIPPED', skipReason: `superseded: ${message}` });
  return true;
}

/** Skips the schedule's open ticks before `tickTime` whose evaluation has not begun; returns their tick times. */
async function supersedeWaitingTicks(trx: Exec, store: Store, key: TickKey, tickTime: number): Promise<number[]> {
  const waiting = await trx
    .selectFrom('ticks')
    .innerJoin('work_items', 'work_items.id', 'ticks.work_item_id')
    .select(['ticks.tick_time', 'ticks.work_item_id', 'work_items.status'])
    .where('ticks.location', '=', key.location)
    .where('ticks.kind', '=', 'SCHEDULE')
    .where('ticks.name', '=', key.name)
    .where('ticks.status', '=', 'STARTED')
    .where('ticks.tick_time', '<', tickTime)
    .where(notBegun(store.now()))
    .orderBy('ticks.tick_time')
    .execute();
  const at = new Date(tickTime).toISOString();
  const skipped: number[] = [];
  for (const w of waiting) {
    const message = `the tick of ${at} came due first: ${waitedFor(w.status)} (agent or Temporal away?); the latest due tick fires`;
    if (await skipTick(trx, store, w.work_item_id!, message)) skipped.push(Number(w.tick_time));
  }
  return skipped;
}

/**
 * Skips every schedule tick not begun whose next tick was due by `dueBy` (its item's
 * claim_until), each in a transaction of its own (no lock held while another is waited for).
 * Returns those skipped.
 */
export async function supersedeStaleTicks(
  store: Store,
  dueBy: number,
): Promise<Array<{ location: string; name: string; tickTime: number }>> {
  // Read outside a transaction: a pass with nothing to skip (nearly every pass) writes nothing.
  const stale = await store.db
    .selectFrom('work_items')
    .innerJoin('ticks', 'ticks.work_item_id', 'work_items.id')
    .select([
      'work_items.id',
      'work_items.status',
      'work_items.claim_until',
      'ticks.location',
      'ticks.name',
      'ticks.tick_time',
    ])
    .where('work_items.status', 'in', ['QUEUED', 'CLAIMED'])
    .where('work_items.kind', '=', 'EVALUATE_SCHEDULE')
    .where('work_items.claim_until', '<=', dueBy)
    .where(notBegun(store.now()))
    .where('ticks.status', '=', 'STARTED')
    .orderBy('work_items.created_at')
    .orderBy('work_items.id')
    .execute();
  const skipped: Array<{ location: string; name: string; tickTime: number }> = [];
  for (const w of stale) {
    const next = new Date(Number(w.claim_until)).toISOString();
    const message = `its next tick (${next}) came due first: ${waitedFor(w.status)} (agent or Temporal away?); a tick is evaluated only until its next comes due`;
    if (await store.transaction((trx) => skipTick(trx, store, w.id, message)))
      skipped.push({ location: w.location, name: w.name, tickTime: Number(w.tick_time) });
  }
  return skipped;
}

/**
 * Returns whether the tick was new (an EVALUATE_SENSOR item was enqueued). The daemon decided
 * from a read taken at the start of its pass; the decision is re-made here on the instigator's
 * row, locked until commit (a completion that moves the cursor, another replica's tick and a
 * stop by a user all write that row): still RUNNING, this tick past its last, none open, and
 * the cursor as stored now.
 */
export async function startSensorTick(
  store: Store,
  key: TickKey,
  tickTime: number,
  defaultRunning: boolean,
): Promise<boolean> {
  const ref = { ...key, kind: 'SENSOR' as InstigatorKind };
  return store.transaction(async (trx) => {
    const row = await lockInstigator(trx, store, ref);
    if ((row.state ?? (defaultRunning ? 'RUNNING' : 'STOPPED')) !== 'RUNNING') return false;
    const lastTickTime = row.last_tick_at == null ? undefined : Number(row.last_tick_at);
    if (lastTickTime !== undefined && tickTime <= lastTickTime) return false;
    if (await hasOpenTick(trx, key.location, 'SENSOR', key.name)) return false;
    const cursor = row.cursor;
    const { item, created } = await enqueue(trx, store, {
      kind: 'EVALUATE_SENSOR',
      payload: {
        location: key.location,
        sensor: key.name,
        cursor,
        ...(lastTickTime !== undefined ? { lastTickTimeMs: lastTickTime } : {}),
      },
      dedupeKey: `sensor:${key.location}:${key.name}:${tickTime}`,
    });
    if (created) await insertTick(trx, store, { ...ref, tickTime, workItemId: item.id, cursor });
    await updateInstigator(trx, store, ref, { last_tick_at: tickTime });
    return created;
  });
}

/**
 * A sensor Outpost cannot evaluate (`unsupported`: Dagster's declarative automation sensor)
 * found RUNNING (stored so from before starting one was refused, or by its default status):
 * stopped, with one SKIPPED tick saying why, coded, in one transaction, instead of an evaluation
 * that fails every interval. Returns whether this call stopped it (false: a replica did first).
 */
export async function stopUnsupportedSensor(
  store: Store,
  key: TickKey,
  sensor: { unsupported: string; defaultStatus: 'RUNNING' | 'STOPPED' },
): Promise<boolean> {
  const ref = { ...key, kind: 'SENSOR' as InstigatorKind };
  return store.transaction(async (trx) => {
    if (!(await stopRunningInstigator(trx, store, ref, sensor.defaultStatus === 'RUNNING'))) return false;
    const skipReason = `${errorCode('UNSUPPORTED_DAGSTER_FEATURE')}: ${sensor.unsupported}. It was RUNNING (started before Outpost refused to start it, or by its default status); Outpost stopped it rather than fail a tick every interval`;
    await insertSkippedTick(trx, store, { ...ref, tickTime: store.now(), skipReason });
    return true;
  });
}
