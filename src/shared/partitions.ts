// Partitions: a fixed list of keys, or time windows (hourly/daily/weekly/monthly) from a start
// date in a time zone. A window's key appears once the window has ended, as in Dagster. Shared:
// the SDK re-exports it, and the control plane checks a launch's key with it.
import { Cron } from 'croner';
import { OutpostError } from './errors.js';
import { instantOfWallClock, pad, wallClockAt } from './zoned-time.js';

export type Cadence = 'hourly' | 'daily' | 'weekly' | 'monthly';

export interface StaticPartitionsDef {
  readonly kind: 'static';
  readonly name: string;
  readonly keys: readonly string[];
}

export interface TimeWindowPartitionsDef {
  readonly kind: 'timeWindow';
  readonly name: string;
  /** `yyyy-MM-dd` or `yyyy-MM-ddTHH:mm`, read in `timezone`. */
  readonly start: string;
  readonly cadence: Cadence;
  readonly timezone: string;
  /** Key format with tokens yyyy, MM, dd, HH, mm. */
  readonly format: string;
}

export type PartitionsDef = StaticPartitionsDef | TimeWindowPartitionsDef;

/** Partitions named by a fixed list: `staticPartitions({ name: 'regions', keys: ['eu', 'us'] })`. */
export function staticPartitions(spec: { name: string; keys: string[] }): StaticPartitionsDef {
  if (new Set(spec.keys).size !== spec.keys.length) throw invalid(`partitions ${spec.name}: keys are not unique`);
  return { kind: 'static', name: spec.name, keys: [...spec.keys] };
}

const CRON: Record<Cadence, string> = {
  hourly: '0 * * * *',
  daily: '0 0 * * *',
  weekly: '0 0 * * 0',
  monthly: '0 0 1 * *',
};
const DEFAULT_FORMAT: Record<Cadence, string> = {
  hourly: 'yyyy-MM-dd-HH:mm',
  daily: 'yyyy-MM-dd',
  weekly: 'yyyy-MM-dd',
  monthly: 'yyyy-MM-dd',
};

/** `timeWindowPartitions({ name: 'daily', start: '2024-01-01', cadence: 'daily' })`. */
export function timeWindowPartitions(spec: {
  name: string;
  start: string;
  cadence: Cadence;
  timezone?: string;
  format?: string;
}): TimeWindowPartitionsDef {
  if (!(spec.cadence in CRON)) throw invalid(`partitions ${spec.name}: unknown cadence "${String(spec.cadence)}"`);
  const timezone = spec.timezone ?? 'UTC';
  const def = {
    kind: 'timeWindow' as const,
    name: spec.name,
    start: spec.start,
    cadence: spec.cadence,
    timezone,
    format: spec.format ?? DEFAULT_FORMAT[spec.cadence],
  };
  zonedToInstant(def.start, timezone, def.name); // fail at definition time, not on first query
  return def;
}

/** Upper bound on keys a time window yields, so a mistaken start cannot exhaust memory. */
export const MAX_PARTITION_KEYS = 100_000;

export function partitionKeys(def: PartitionsDef, nowMs: number): string[] {
  if (def.kind === 'static') return [...def.keys];
  const cron = new Cron(CRON[def.cadence], { timezone: def.timezone });
  const start = zonedToInstant(def.start, def.timezone, def.name);
  const keys: string[] = [];
  let windowStart = cron.nextRun(new Date(start.getTime() - 1));
  while (windowStart && keys.length < MAX_PARTITION_KEYS) {
    const windowEnd = cron.nextRun(windowStart);
    if (!windowEnd || windowEnd.getTime() > nowMs) break;
    keys.push(formatInZone(windowStart, def.timezone, def.format));
    windowStart = windowEnd;
  }
  return keys;
}

export function formatInZone(date: Date, timeZone: string, format: string): string {
  const w = wallClockAt(date.getTime(), timeZone);
  const p = { yyyy: pad(w.year, 4), MM: pad(w.month), dd: pad(w.day), HH: pad(w.hour), mm: pad(w.minute) };
  return format.replace(/yyyy|MM|dd|HH|mm/g, (t) => p[t as keyof typeof p]);
}

/** The instant at which the wall clock in `timeZone` reads `local` (`yyyy-MM-dd[THH:mm]`). */
function zonedToInstant(local: string, timeZone: string, owner: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?$/.exec(local);
  if (!m) throw invalid(`partitions ${owner}: start "${local}" is not yyyy-MM-dd or yyyy-MM-ddTHH:mm`);
  const [, y, mo, d, h = '00', mi = '00'] = m;
  const wall = { year: Number(y), month: Number(mo), day: Number(d), hour: Number(h), minute: Number(mi) };
  try {
    return new Date(instantOfWallClock(wall, timeZone));
  } catch (err) {
    throw invalid(`partitions ${owner}: unknown time zone "${timeZone}" (${(err as Error).message})`);
  }
}

const invalid = (detail: string): OutpostError => new OutpostError('INVALID_ARGUMENT', { detail });
