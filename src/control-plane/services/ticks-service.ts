// A schedule or sensor tick the daemon decided is due: its EVALUATE_* work item, its tick row
// and the instigator's last tick time, in one transaction (the dedupe key makes a second
// replica's attempt a no-op). The caller wakes pollers after commit when one was created.
import type { InstigatorKind } from '../store/instigators.js';
import { insertTick, updateInstigator } from '../store/instigators.js';
import type { Store } from '../store/store.js';
import { enqueue } from '../store/work-items.js';

interface TickKey {
  location: string;
  name: string;
}

/** Returns whether the tick was new (an EVALUATE_SCHEDULE item was enqueued). */
export async function startScheduleTick(store: Store, key: TickKey, tickTime: number): Promise<boolean> {
  const ref = { ...key, kind: 'SCHEDULE' as InstigatorKind };
  return store.transaction(async (trx) => {
    const { item, created } = await enqueue(trx, store, {
      kind: 'EVALUATE_SCHEDULE',
      payload: { location: key.location, schedule: key.name, tickTimeMs: tickTime },
      dedupeKey: `schedule:${key.location}:${key.name}:${tickTime}`,
    });
    if (created) await insertTick(trx, store, { ...ref, tickTime, workItemId: item.id });
    await updateInstigator(trx, store, ref, { last_tick_at: tickTime });
    return created;
  });
}

/** Returns whether the tick was new (an EVALUATE_SENSOR item was enqueued). */
export async function startSensorTick(
  store: Store,
  key: TickKey,
  tickTime: number,
  cursor: string | null,
  lastTickTime: number | undefined,
): Promise<boolean> {
  const ref = { ...key, kind: 'SENSOR' as InstigatorKind };
  return store.transaction(async (trx) => {
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
