// testSchedule / testSensor (Dagster's "test schedule / test sensor"): evaluate a schedule at a
// tick time, or a sensor from a cursor, without launching anything. The control plane enqueues
// an EVALUATE_* item marked `dryRun` (store/work-effects.ts gives it no effect: no run, no
// cursor, no tick), waits for an agent's answer like a location query, and returns it. An error
// raised by the user's code is part of the answer (`error`), as in Dagster's UI; an unknown
// location, schedule or sensor, or no answer in time, is a coded GraphQL error.
import { OutpostError } from '../../shared/errors.js';
import type { RunRequest, WorkItemResult } from '../../shared/work-items.js';
import { requireLocation } from '../store/locations.js';
import type { Store } from '../store/store.js';
import { enqueueWork, type WorkItemView } from '../store/work-items.js';
import { itemError, noAnswer, waitForItem } from './query-location.js';

export interface TickEvaluation {
  runRequests: RunRequest[];
  skipReason: string | null;
  cursor: string | null;
  error: string | null;
}

/** Codes meaning "the user's code (or what it returned) failed": answered as `error`, not thrown. */
const EVALUATION_ERRORS = new Set([
  'OUTPOST_ERR_USER_CODE_ERROR',
  'OUTPOST_ERR_USER_CODE_TIMEOUT',
  'OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE',
]);

export interface TestScheduleInput {
  location: string;
  name: string;
  /** Epoch ms of the tick to evaluate; default now. */
  tickTime?: number | null;
}

export interface TestSensorInput {
  location: string;
  name: string;
  /** The cursor to evaluate from; default none (a first tick). */
  cursor?: string | null;
}

export async function testSchedule(
  store: Store,
  input: TestScheduleInput,
  signal?: AbortSignal,
  waitMs = store.limits.locationQueryWaitMs,
): Promise<TickEvaluation> {
  const tickTimeMs = input.tickTime ?? store.now();
  if (!Number.isFinite(tickTimeMs) || tickTimeMs < 0) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: '`tickTime` must be epoch milliseconds' });
  }
  const loc = await requireLocation(store.db, input.location);
  if (!loc.snapshot?.schedules.some((s) => s.name === input.name)) {
    throw new OutpostError('UNKNOWN_SCHEDULE', {
      detail: `${input.name} in ${input.location} (schedules: ${loc.snapshot?.schedules.map((s) => s.name).join(', ') || 'none'})`,
    });
  }
  const { item } = await enqueueWork(store, {
    kind: 'EVALUATE_SCHEDULE',
    payload: { location: input.location, schedule: input.name, tickTimeMs, dryRun: true },
  });
  const done = await waitForItem(store, item, waitMs, signal);
  return evaluation(store, done, `schedule ${input.location}/${input.name}`, waitMs);
}

export async function testSensor(
  store: Store,
  input: TestSensorInput,
  signal?: AbortSignal,
  waitMs = store.limits.locationQueryWaitMs,
): Promise<TickEvaluation> {
  const loc = await requireLocation(store.db, input.location);
  if (!loc.snapshot?.sensors.some((s) => s.name === input.name)) {
    throw new OutpostError('UNKNOWN_SENSOR', {
      detail: `${input.name} in ${input.location} (sensors: ${loc.snapshot?.sensors.map((s) => s.name).join(', ') || 'none'})`,
    });
  }
  const { item } = await enqueueWork(store, {
    kind: 'EVALUATE_SENSOR',
    payload: { location: input.location, sensor: input.name, cursor: input.cursor ?? null, dryRun: true },
  });
  const done = await waitForItem(store, item, waitMs, signal);
  return evaluation(store, done, `sensor ${input.location}/${input.name}`, waitMs);
}

async function evaluation(store: Store, item: WorkItemView, what: string, waitMs: number): Promise<TickEvaluation> {
  if (item.status === 'COMPLETED') {
    const r = item.result as WorkItemResult<'EVALUATE_SENSOR'>;
    return {
      runRequests: r.runRequests,
      skipReason: r.skipReason ?? null,
      cursor: r.cursor ?? null,
      error: null,
    };
  }
  if (item.status === 'FAILED') {
    if (item.error && EVALUATION_ERRORS.has(item.error.code)) {
      return { runRequests: [], skipReason: null, cursor: null, error: `${item.error.code}: ${item.error.message}` };
    }
    throw itemError(item, 'INTERNAL', `evaluating ${what}`);
  }
  throw await noAnswer(store, item, `evaluating ${what}`, waitMs);
}
