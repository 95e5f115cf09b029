// Wall-clock time in an IANA time zone, for partition keys (the SDK's sets and Dagster's
// time-window sets read through a location's snapshot). Minute precision: no partition
// cadence is finer.

export interface WallClock {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
}

/** One formatter per zone: building an Intl.DateTimeFormat costs far more than using it. */
const formatters = new Map<string, Intl.DateTimeFormat>();
/** Zones a process remembers; past it the map starts again (names come from user code). */
const MAX_ZONES = 64;

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError for a zone the runtime does not know; callers say whose zone it was.
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    if (formatters.size >= MAX_ZONES) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

/** What a clock in `timeZone` reads at instant `t` (ms since the epoch). */
export function wallClockAt(t: number, timeZone: string): WallClock {
  const parts = formatter(timeZone).formatToParts(new Date(t));
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute') };
}

/**
 * The instant at which a clock in `timeZone` reads `w`. Two passes converge on the zone's
 * offset at that wall time, DST edges included (a time skipped by a spring-forward lands on the
 * instant after the gap). NaN when `w` is not a date.
 */
export function instantOfWallClock(w: WallClock, timeZone: string): number {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
  if (!Number.isFinite(asUtc)) return NaN;
  let guess = asUtc;
  for (let i = 0; i < 2; i++) {
    const shown = wallClockAt(guess, timeZone);
    guess += asUtc - Date.UTC(shown.year, shown.month - 1, shown.day, shown.hour, shown.minute);
  }
  return guess;
}

/** Two digits (four for a year), as partition keys print them. */
export function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}
