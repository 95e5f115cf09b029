// How the agent ends a run itself (its worker never ran, or died without a terminal event): an
// ENGINE event and the terminal one after the highest seq, unless the run already ended.
import { errorCode, isOutpostError, type ErrorName } from '../src/shared/errors.js';
import { MAX_FAILURE_MESSAGE_LENGTH, cutMessage } from '../src/shared/message-limits.js';
import type { RunEvent } from '../src/shared/run-events.js';
import { isTerminalRunStatus, type RunStatus } from '../src/shared/run-status.js';
import type { ActivityDeps } from './ports.js';

export interface RunEnding {
  runId: string;
  type: 'RUN_FAILURE' | 'RUN_CANCELED';
  message: string;
  /** The ENGINE event's data. Default {}. */
  data?: Record<string, unknown>;
  /** The highest seq seen in the spool (may be ahead of the stored cursor). Default 0: the stored cursor's. */
  afterSeq?: number;
  /** The failure's code when the cause is known (default RUN_WORKER_EXITED). */
  code?: ErrorName;
}

/** Appends ENGINE + a terminal event after the highest seq, unless the run already ended; the run's status. */
export async function endRunWithEvents(
  deps: Pick<ActivityDeps, 'controlPlane' | 'agentId'>,
  now: () => number,
  { runId, type, message: given, data = {}, afterSeq = 0, code = 'RUN_WORKER_EXITED' }: RunEnding,
): Promise<RunStatus> {
  // A launch's failure may quote user code (a path it deployed, its exception).
  const message = cutMessage(given, MAX_FAILURE_MESSAGE_LENGTH, 'maxFailureMessageLength');
  const cursor = await deps.controlPlane.runCursor(deps.agentId(), runId);
  if (isTerminalRunStatus(cursor.status)) return cursor.status;
  const seq = Math.max(cursor.lastSeq, afterSeq) + 1;
  const at = now();
  const events: RunEvent[] = [
    { seq, type: 'ENGINE', timestamp: at, level: type === 'RUN_FAILURE' ? 'error' : 'warn', message, data },
    {
      seq: seq + 1,
      type,
      timestamp: at,
      message,
      ...(type === 'RUN_FAILURE' ? { error: { name: errorCode(code), message } } : {}),
    },
  ];
  try {
    return (await deps.controlPlane.appendRunEvents(deps.agentId(), runId, events)).status;
  } catch (err) {
    // Another ending of the run landed first (a stale attempt of the same supervision still
    // running here, or the workflow's endRunWithoutWorker): the run has ended, which is the answer.
    if (!isOutpostError(err, 'RUN_EVENT_CONFLICT')) throw err;
    const stored = await deps.controlPlane.runCursor(deps.agentId(), runId);
    if (!isTerminalRunStatus(stored.status)) throw err;
    return stored.status;
  }
}
