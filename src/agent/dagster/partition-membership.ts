// Whether a key is in a Dagster job's partition set, decided from the location's snapshot
// without listing the set. Dagster's code server has no call that answers it (measured on
// 1.13.29: ExternalPartitionConfig and ExternalPartitionTags answer any key, "garbage" too), and
// listing an hourly set since 2015 is 104,435 keys, 2 MB and ~3 s of the code server. Pure, given
// `now`. A set this cannot decide (a strftime token other than %Y %m %d %H %M, an end date,
// exclusions, a negative end offset, a cron croner does not read) is `list`: the caller lists it.
import { Cron } from 'croner';
import type { PartitionsSnapshot } from '../../shared/location-snapshot.js';
import { instantOfWallClock, pad, wallClockAt } from '../../shared/zoned-time.js';

export type Membership =
  | { in: true }
  | { in: false; hint: string }
  /** Only the set's listed keys can tell. */
  | { in: 'list' }
  /** Dagster lists these keys from its instance, which Outpost gives user code none of. */
  | { in: 'dynamic'; dimension?: string };

/** The time-window fields of a set or of a multi-partition dimension. */
export type WindowSpec = Pick<
  PartitionsSnapshot,
  'start' | 'cron' | 'timezone' | 'format' | 'endOffset' | 'end' | 'exclusions'
>;
type Dimension = NonNullable<PartitionsSnapshot['dimensions']>[number];

/** Neighbours named in a refusal, each side. */
const NEAREST = 2;
/** Steps any walk over a cron may take (a minutely cron, searched a few days back). */
const MAX_STEPS = 20_000;

export function keyInSet(set: PartitionsSnapshot, key: string, now: number): Membership {
  switch (set.kind) {
    case 'static':
      return inList(set.keys ?? [], key);
    case 'timeWindow':
      return inWindows(set, key, now);
    case 'multi':
      return inMulti(set.dimensions ?? [], key, now);
    case 'dynamic':
      return { in: 'dynamic' };
    default:
      // A kind this Outpost does not know (snapshot-mapper.ts): its code server lists the keys.
      return { in: 'list' };
  }
}

/** `key` against listed keys; the refusal names the count, the range and the nearest keys. */
export function inList(keys: readonly string[], key: string): Membership {
  if (keys.includes(key)) return { in: true };
  if (!keys.length) return { in: false, hint: 'it has no keys yet' };
  const sorted = [...keys].sort();
  let at = 0;
  while (at < sorted.length && sorted[at]! < key) at++;
  const near = sorted.slice(Math.max(0, at - NEAREST), at + NEAREST);
  return {
    in: false,
    hint: `${keys.length} keys, ${sorted[0]} to ${sorted.at(-1)}; nearest: ${near.join(', ')}`,
  };
}

function inMulti(dimensions: readonly Dimension[], key: string, now: number): Membership {
  const parts = key.split('|');
  const names = dimensions.map((d) => d.name).join('|');
  if (parts.length !== dimensions.length) {
    return { in: false, hint: `a key of ${dimensions.length} dimensions joined with "|" (${names})` };
  }
  let list = false;
  for (const [i, d] of dimensions.entries()) {
    const part = parts[i]!;
    if (d.kind === 'dynamic') return { in: 'dynamic', dimension: d.name };
    const r =
      d.kind === 'static' ? inList(d.keys ?? [], part) : d.kind === 'timeWindow' ? inWindows(d, part, now) : undefined;
    if (!r) {
      // A dimension of a kind this Outpost does not know: the set's listed keys decide.
      list = true;
      continue;
    }
    if (r.in === 'list') list = true;
    else if (r.in === false)
      return { in: false, hint: `dimension ${d.name} (of ${names}): ${JSON.stringify(part)}: ${r.hint}` };
  }
  return list ? { in: 'list' } : { in: true };
}

function inWindows(w: WindowSpec, key: string, now: number): Membership {
  const endOffset = w.endOffset ?? 0;
  if (!w.cron || !w.format || w.start === undefined || w.end !== undefined || w.exclusions || endOffset < 0) {
    return { in: 'list' };
  }
  const format = compileFormat(w.format);
  if (!format) return { in: 'list' };
  const tz = w.timezone ?? 'UTC';
  let cron: Cron;
  try {
    cron = new Cron(w.cron, { timezone: tz });
  } catch {
    return { in: 'list' };
  }
  const first = cron.nextRun(new Date(Date.parse(w.start) - 1000))?.getTime();
  if (first === undefined) return { in: 'list' };
  const show = (t: number): string => formatWindow(t, tz, w.format!);
  const last = lastWindowStart(cron, now, endOffset);
  const range =
    last === undefined || last < first
      ? `it has no keys yet (the first, ${show(first)}, comes when its window ends)`
      : `keys ${show(first)} to ${show(last)} (strftime ${w.format}, cron "${w.cron}", ${tz})`;
  const fields = format.parse(key);
  const t = fields ? wallToInstant(fields, tz) : undefined;
  if (t === undefined || show(t) !== key)
    return { in: false, hint: `${range}; ${JSON.stringify(key)} is not in that format` };
  const isTick = cron.nextRun(new Date(t - 1000))?.getTime() === t;
  if (isTick && t >= first && last !== undefined && t <= last) return { in: true };
  if (last === undefined || last < first) return { in: false, hint: range };
  // The nearest keys around t, within the set.
  const after = cron.nextRun(new Date(t - (isTick ? 0 : 1000)))?.getTime() ?? last;
  const before = previousTick(cron, t) ?? first;
  const near = [...new Set([Math.min(Math.max(before, first), last), Math.min(Math.max(after, first), last)])];
  return { in: false, hint: `${range}; nearest: ${near.map(show).join(', ')}` };
}

/**
 * The start of the set's newest window: with end offset 0 the last window that has ended (as
 * Dagster: a window's key appears once it is over), each offset one window later.
 */
function lastWindowStart(cron: Cron, now: number, endOffset: number): number | undefined {
  const current = previousTick(cron, now + 1); // the window now is in (its start <= now)
  if (current === undefined) return undefined;
  let t: number | undefined = previousTick(cron, current); // the last one that ended
  for (let i = 0; i < endOffset && t !== undefined; i++) t = cron.nextRun(new Date(t))?.getTime();
  return t;
}

/** The latest tick strictly before `t`, searched back a widening span; undefined if none. */
function previousTick(cron: Cron, t: number): number | undefined {
  for (const span of [3_600_000, 86_400_000, 32 * 86_400_000, 400 * 86_400_000, 10 * 400 * 86_400_000]) {
    let p: number | undefined = cron.nextRun(new Date(t - span))?.getTime();
    if (p === undefined || p >= t) continue;
    for (let i = 0; i < MAX_STEPS; i++) {
      const n: number | undefined = cron.nextRun(new Date(p))?.getTime();
      if (n === undefined || n >= t) return p;
      p = n;
    }
    return undefined;
  }
  return undefined;
}

type Field = 'Y' | 'm' | 'd' | 'H' | 'M';
const FIELD_PATTERN: Record<Field, string> = {
  Y: '(\\d{4})',
  m: '(\\d{2})',
  d: '(\\d{2})',
  H: '(\\d{2})',
  M: '(\\d{2})',
};

/** A strftime format Outpost can read back (undefined for any other token). */
function compileFormat(fmt: string): { parse(key: string): Partial<Record<Field, number>> | undefined } | undefined {
  let source = '^';
  const order: Field[] = [];
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%') {
      source += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
      continue;
    }
    const token = fmt[++i];
    if (token === '%') source += '%';
    else if (token !== undefined && token in FIELD_PATTERN) {
      source += FIELD_PATTERN[token as Field];
      order.push(token as Field);
    } else return undefined;
  }
  const re = new RegExp(`${source}$`);
  return {
    parse(key) {
      const m = re.exec(key);
      if (!m) return undefined;
      return Object.fromEntries(order.map((f, i) => [f, Number(m[i + 1])]));
    },
  };
}

function zoned(t: number, tz: string): Record<Field, string> {
  const w = wallClockAt(t, tz);
  return { Y: pad(w.year, 4), m: pad(w.month), d: pad(w.day), H: pad(w.hour), M: pad(w.minute) };
}

/** `t` as the set's key: strftime with the tokens compileFormat reads. */
export function formatWindow(t: number, tz: string, fmt: string): string {
  const p = zoned(t, tz);
  return fmt.replace(/%([YmdHM%])/g, (_, f: string) => (f === '%' ? '%' : p[f as Field]));
}

/** The instant the wall clock in `tz` reads `f` (missing fields: the start of the period). */
function wallToInstant(f: Partial<Record<Field, number>>, tz: string): number | undefined {
  const wall = { year: f.Y ?? 1970, month: f.m ?? 1, day: f.d ?? 1, hour: f.H ?? 0, minute: f.M ?? 0 };
  const t = instantOfWallClock(wall, tz);
  return Number.isFinite(t) ? t : undefined;
}
