// How an activity's error reaches its workflow: as an ApplicationFailure whose `type` is the
// OUTPOST_ERR_* code (so the workflow can pass it to failWork), retryable only when the cause
// is transient.
import { ApplicationFailure } from '@temporalio/common';
import { ERRORS, errorCode, isOutpostError, type ErrorName } from '../src/shared/errors.js';
import { MAX_FAILURE_MESSAGE_LENGTH, cutMessage } from '../src/shared/message-limits.js';

/**
 * Codes worth retrying: something is down for now, not wrong forever. Every code the registry
 * answers 503 is one: the control plane, a code server, Temporal, or the control plane's own
 * database (POSTGRES_UNAVAILABLE, STORE_CLOSED: failing a run's activities for good on those
 * left the run STARTED forever once PostgreSQL came back, its worker gone and its end unstored).
 */
const RETRYABLE = new Set<string>([
  ...(Object.keys(ERRORS) as ErrorName[]).filter((name) => ERRORS[name].http === 503).map(errorCode),
  errorCode('INTERNAL'),
  // Finishing an item whose lease lapsed before the ack landed: it is re-claimed and acked for
  // this same workflow (the start finds it), after which the retry succeeds.
  errorCode('WORK_ITEM_NOT_OWNED'),
  // A run write refused now may be accepted on retry: the launch lease lapsed and this agent's
  // next claim restores it, or a bookkeeping activity landed on an agent other than the one that
  // launched the run and the retry lands on that one.
  errorCode('RUN_NOT_OWNED'),
]);

/**
 * Turns an error into an ApplicationFailure whose `type` is the OUTPOST_ERR_* code, so the
 * workflow can pass a coded error to failWork. Unknown errors stay retryable. A message past
 * maxFailureMessageLength (user code's exception, as long as the code server's 64 MB replies)
 * is cut here, before it is written to the workflow's history, and the cause that carries it
 * whole (in its message and stack) is left out.
 */
export function toFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const message = cutMessage(e.message, MAX_FAILURE_MESSAGE_LENGTH, 'maxFailureMessageLength');
  const cause = message === e.message ? e : undefined;
  if (isOutpostError(err)) {
    return ApplicationFailure.create({ type: err.code, message, nonRetryable: !RETRYABLE.has(err.code), cause });
  }
  return ApplicationFailure.create({ type: errorCode('INTERNAL'), message, cause });
}

/** Runs `fn`, converting what it throws with `toFailure`. */
export async function coded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}
