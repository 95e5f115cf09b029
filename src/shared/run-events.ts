// The run-event schema: written by the run worker to its spool, shipped by the agent,
// stored by the control plane, which derives run status from it.
import { z } from 'zod';

export const RUN_EVENT_TYPES = [
  'RUN_START',
  'STEP_START',
  'LOG',
  'STEP_OUTPUT',
  'STEP_SUCCESS',
  'STEP_FAILURE',
  /** The step was stopped because the run was terminated (not a failure: no error). */
  'STEP_CANCELED',
  'RUN_SUCCESS',
  'RUN_FAILURE',
  'RUN_CANCELED',
  /** An asset was materialized (Dagster); `assetKey` names it. */
  'ASSET_MATERIALIZATION',
  /** An asset was observed without being materialized (Dagster); `assetKey` names it. */
  'ASSET_OBSERVATION',
  /** Written by the agent or control plane about the run (e.g. "worker exited with signal 9"). */
  'ENGINE',
] as const;
export type RunEventType = (typeof RUN_EVENT_TYPES)[number];

/** The events that end a run, in the order of their statuses (SUCCESS, FAILURE, CANCELED). */
export const TERMINAL_EVENT_TYPE_LIST = [
  'RUN_SUCCESS',
  'RUN_FAILURE',
  'RUN_CANCELED',
] as const satisfies readonly RunEventType[];
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set(TERMINAL_EVENT_TYPE_LIST);

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const SerializedErrorSchema = z.object({
  name: z.string(),
  message: z.string(),
  stack: z.string().optional(),
});
export type SerializedError = z.infer<typeof SerializedErrorSchema>;

export const RunEventSchema = z.object({
  /** 1, 2, 3, ... with no gaps, per run. */
  seq: z.number().int().positive(),
  type: z.enum(RUN_EVENT_TYPES),
  /** Epoch milliseconds when the event was written. */
  timestamp: z.number(),
  /** The op (step) this event belongs to, if any. */
  stepKey: z.string().optional(),
  /** ASSET_MATERIALIZATION / ASSET_OBSERVATION: the asset key, path parts joined with `/`. */
  assetKey: z.string().optional(),
  level: z.enum(LOG_LEVELS).optional(),
  message: z.string().optional(),
  /** Structured payload: log fields, output metadata, exit code... */
  data: z.record(z.unknown()).optional(),
  error: SerializedErrorSchema.optional(),
});
export type RunEvent = z.infer<typeof RunEventSchema>;

export const COMPUTE_LOG_STREAMS = ['stdout', 'stderr'] as const;
export type ComputeLogStream = (typeof COMPUTE_LOG_STREAMS)[number];

/** File names inside a run's spool directory. */
export const SPOOL_FILES = {
  events: 'events.jsonl',
  stdout: 'stdout.log',
  stderr: 'stderr.log',
  /** Written by the agent when it terminates the run (the worker never writes it). */
  terminated: 'terminate-requested.json',
} as const;

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: 'Error', message: String(err) };
}
