// A run's execution times, computed once from its events and used by the API, CLI and UI:
// it started when the run worker wrote RUN_START and ended at its terminal event, both by
// the worker's clock. Times the control plane heard of them (which lag for an adopted or
// backlogged run) are only a fallback when no such event exists.
import { TERMINAL_EVENT_TYPES } from './run-spool.js';
import { isTerminalRunStatus } from './run-status.js';

export interface TimedEvent {
  type: string;
  timestamp: number;
}

/** The first RUN_START and the first terminal event among `events` (any order), as epoch ms. */
export function executionTimes(events: Iterable<TimedEvent>): { startedAt?: number; endedAt?: number } {
  let startedAt: number | undefined;
  let endedAt: number | undefined;
  for (const e of events) {
    const t = Math.round(Number(e.timestamp));
    if (!Number.isFinite(t)) continue;
    if (e.type === 'RUN_START') startedAt = startedAt === undefined ? t : Math.min(startedAt, t);
    else if (TERMINAL_EVENT_TYPES.has(e.type)) endedAt = endedAt === undefined ? t : Math.min(endedAt, t);
  }
  return { ...(startedAt !== undefined ? { startedAt } : {}), ...(endedAt !== undefined ? { endedAt } : {}) };
}

export interface RunTimesInput {
  status: string;
  startedAt: number | null;
  endedAt: number | null;
}

/**
 * Milliseconds from start to end; to `now` while the run is still going; null when it never
 * started (a run that failed to launch has no duration) or ended without an end time.
 * Never negative (clocks of two hosts may disagree by a little).
 */
export function runDurationMs(run: RunTimesInput, now: number): number | null {
  if (run.startedAt == null) return null;
  const end = run.endedAt ?? (isTerminalRunStatus(run.status) ? null : now);
  if (end == null) return null;
  return Math.max(0, Math.round(end - run.startedAt));
}

/** `9 ms`, `1.5 s`, `1m 18s`, `2h 5m`: the one human form of a duration (CLI and UI). */
export function formatDurationMs(ms: number | null | undefined): string {
  if (ms == null || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}
