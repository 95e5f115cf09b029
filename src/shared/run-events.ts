// The run-event schema: written by the run worker to its spool, shipped by the agent,
// stored by the control plane, which derives run status from it.
import { z } from 'zod';
import type { SerializedError } from './run-spool.js';

// What the run worker needs of this module lives zod-free in run-spool.ts (a worker boot does not
// pay for zod v3); everyone else imports it from here as before.
export {
  SPOOL_FILES,
  TERMINAL_EVENT_TYPE_LIST,
  TERMINAL_EVENT_TYPES,
  serializeError,
  type SerializedError,
} from './run-spool.js';

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

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const SerializedErrorSchema = z.object({
  name: z.string(),
  message: z.string(),
  stack: z.string().optional(),
}) satisfies z.ZodType<SerializedError>;

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
