// Schedules and sensors as the user sees them: the definition from the location's snapshot
// merged with the stored state (running/stopped override, cursor, last tick).
import { Cron } from 'croner';
import { OutpostError } from '../../shared/errors.js';
import type { LocationSnapshot } from '../../shared/location-snapshot.js';
import { getInstigator, listInstigators, updateInstigator, type InstigatorState } from '../store/instigators.js';
import { requireLocation, type LocationView } from '../store/locations.js';
import type { InstigatorsTable } from '../store/schema.js';
import type { Store } from '../store/store.js';

type ScheduleDef = LocationSnapshot['schedules'][number];
type SensorDef = LocationSnapshot['sensors'][number];

export interface ScheduleView extends ScheduleDef {
  location: string;
  state: InstigatorState;
  lastTickAt: number | null;
  nextTickAt: number | null;
}

export interface SensorView extends SensorDef {
  location: string;
  state: InstigatorState;
  cursor: string | null;
  lastTickAt: number | null;
}

/** Next cron time strictly after `after`, in the schedule's time zone. */
export function nextCronTime(cron: string, timezone: string, after: number): number | null {
  const next = new Cron(cron, { timezone, paused: true }).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

export function scheduleView(
  loc: string,
  def: ScheduleDef,
  row: InstigatorsTable | undefined,
  now: number,
): ScheduleView {
  const state = row?.state ?? def.defaultStatus;
  let nextTickAt: number | null = null;
  if (state === 'RUNNING') {
    try {
      nextTickAt = nextCronTime(def.cron, def.timezone, now);
    } catch {
      nextTickAt = null;
    }
  }
  return {
    ...def,
    location: loc,
    state,
    lastTickAt: row?.last_tick_at == null ? null : Number(row.last_tick_at),
    nextTickAt,
  };
}

export function sensorView(loc: string, def: SensorDef, row: InstigatorsTable | undefined): SensorView {
  return {
    ...def,
    location: loc,
    state: row?.state ?? def.defaultStatus,
    cursor: row?.cursor ?? null,
    lastTickAt: row?.last_tick_at == null ? null : Number(row.last_tick_at),
  };
}

export async function schedulesOf(store: Store, loc: LocationView): Promise<ScheduleView[]> {
  const rows = (await listInstigators(store.db)).filter((r) => r.location === loc.name && r.kind === 'SCHEDULE');
  return (loc.snapshot?.schedules ?? []).map((d) =>
    scheduleView(
      loc.name,
      d,
      rows.find((r) => r.name === d.name),
      store.now(),
    ),
  );
}

export async function sensorsOf(store: Store, loc: LocationView): Promise<SensorView[]> {
  const rows = (await listInstigators(store.db)).filter((r) => r.location === loc.name && r.kind === 'SENSOR');
  return (loc.snapshot?.sensors ?? []).map((d) =>
    sensorView(
      loc.name,
      d,
      rows.find((r) => r.name === d.name),
    ),
  );
}

export async function setScheduleState(
  store: Store,
  location: string,
  name: string,
  state: InstigatorState,
): Promise<ScheduleView> {
  const loc = await requireLocation(store.db, location);
  const def = loc.snapshot?.schedules.find((s) => s.name === name);
  if (!def) throw new OutpostError('UNKNOWN_SCHEDULE', { detail: `${name} in ${location}` });
  // Starting resets the baseline to now, so a schedule that was stopped does not fire for the past.
  await updateInstigator(
    store.db,
    store,
    { location, kind: 'SCHEDULE', name },
    {
      state,
      ...(state === 'RUNNING' ? { last_tick_at: store.now() } : {}),
    },
  );
  return scheduleView(location, def, await getInstigator(store.db, location, 'SCHEDULE', name), store.now());
}

export async function setSensorState(
  store: Store,
  location: string,
  name: string,
  state: InstigatorState,
): Promise<SensorView> {
  const loc = await requireLocation(store.db, location);
  const def = loc.snapshot?.sensors.find((s) => s.name === name);
  if (!def) throw new OutpostError('UNKNOWN_SENSOR', { detail: `${name} in ${location}` });
  // Turned on, it would only fail every tick: refused, saying why. Stopping it is always allowed.
  if (def.unsupported && state === 'RUNNING') {
    throw new OutpostError('UNSUPPORTED_DAGSTER_FEATURE', { detail: def.unsupported });
  }
  await updateInstigator(store.db, store, { location, kind: 'SENSOR', name }, { state });
  return sensorView(location, def, await getInstigator(store.db, location, 'SENSOR', name));
}
