// The zod-free part of the run-event contract (run-events.ts re-exports it): what the run worker
// needs to write its spool, so its boot loads no schema library. The schemas stay in run-events.ts.
import type { RunEventType } from './run-events.js';

/** The events that end a run, in the order of their statuses (SUCCESS, FAILURE, CANCELED). */
export const TERMINAL_EVENT_TYPE_LIST = [
  'RUN_SUCCESS',
  'RUN_FAILURE',
  'RUN_CANCELED',
] as const satisfies readonly RunEventType[];
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set(TERMINAL_EVENT_TYPE_LIST);

/** An error as events carry it. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string | undefined;
}

/** File names inside a run's spool directory. */
export const SPOOL_FILES = {
  events: 'events.jsonl',
  stdout: 'stdout.log',
  stderr: 'stderr.log',
  /**
   * Written by the agent when it terminates the run, before it signals the worker (the worker
   * never writes it; it reads it to tell a failure the stop caused from the run's own).
   */
  terminated: 'terminate-requested.json',
} as const;

/**
 * The run worker's exit code when its spool's filesystem is full (ENOSPC, EDQUOT): it could write
 * no terminal event, so the agent ends the run and names the cause (RUN_SPOOL_DISK_FULL).
 */
export const SPOOL_FULL_EXIT_CODE = 3;

/** Whether a write failed because its filesystem (or the user's quota on it) is full. */
export const isDiskFull = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
};

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: 'Error', message: String(err) };
}
