// The missed-tick policy's pure core: the latest due cron time, and how many were missed.
import { Cron } from 'croner';

/** Searches back from `now` in growing windows, so a long downtime costs few cron steps. */
const SEARCH_WINDOWS_MS = [3_600_000, 86_400_000, 31 * 86_400_000, 366 * 86_400_000];
const MAX_STEPS = 100_000;

/** The latest cron time t with after < t <= now, or undefined. */
export function latestDueTick(cron: string, timezone: string, after: number, now: number): number | undefined {
  const c = new Cron(cron, { timezone, paused: true });
  for (const w of [...SEARCH_WINDOWS_MS, Infinity]) {
    const start = Math.max(after, now - w);
    const first = c.nextRun(new Date(start))?.getTime();
    if (first === undefined || first > now) {
      if (start === after) return undefined;
      continue;
    }
    let t: number = first;
    for (let i = 0; i < MAX_STEPS; i++) {
      const n: number | undefined = c.nextRun(new Date(t))?.getTime();
      if (n === undefined || n > now) break;
      t = n;
    }
    return t;
  }
  return undefined;
}

/** Missed ticks are counted up to this many (a long downtime is reported as "N+"). */
export const MAX_COUNTED_TICKS = 10_000;

/** How many cron times t with after < t < before (at most MAX_COUNTED_TICKS). */
export function countTicksBetween(cron: string, timezone: string, after: number, before: number): number {
  const c = new Cron(cron, { timezone, paused: true });
  let n = 0;
  for (let t = c.nextRun(new Date(after))?.getTime(); t !== undefined && t < before && n < MAX_COUNTED_TICKS; n++) {
    t = c.nextRun(new Date(t))?.getTime();
  }
  return n;
}
