// THROWAWAY (round 9 logs timeline): appends one JSON line per event to $OUTPOST_LOG_TRACE.
import { appendFileSync } from 'node:fs';

const file = process.env.OUTPOST_LOG_TRACE;
export const tracing = file !== undefined && file !== '';

export function trace(who: string, what: string, fields: Record<string, unknown> = {}): void {
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ t: performance.timeOrigin + performance.now(), who, what, ...fields })}\n`);
}
