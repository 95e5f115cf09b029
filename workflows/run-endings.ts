// How the run workflow types (run.ts: V1-V3, run-v4.ts: V4) end a run: terminate and drain it,
// fail or complete its launch item. The same activities in the same order as each type had
// inline, so moving them here changed no history (test/unit/agent/replay.test.ts).
import { ActivityFailure, isCancellation } from '@temporalio/workflow';
import type { LaunchHandle, SuperviseResult } from '../activities/index.js';
import type { RunStatus } from '../src/shared/run-status.js';
import { bookkeeping, type hostActivities, localBookkeeping, workFailureOf } from './activity-options.js';
import type { RunWorkflowInput } from './types.js';

const DEFAULT_GRACE_MS = 10_000;

/**
 * SIGTERM now, grace, SIGKILL (terminateProcess, on the host); then the supervision under way
 * sees the exit and drains, ending a run that wrote no terminal event CANCELED. If it failed for
 * good, a fresh attempt drains instead: its result, else undefined (the supervision's stands).
 */
export async function terminateAndDrain(
  host: ReturnType<typeof hostActivities>,
  handle: LaunchHandle,
  input: RunWorkflowInput,
  supervised: Promise<unknown>,
): Promise<SuperviseResult | undefined> {
  await host.terminateProcess(handle, input.terminateGraceMs ?? DEFAULT_GRACE_MS);
  try {
    await supervised;
    return undefined;
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    return host.superviseRun(handle, { terminating: true });
  }
}

/** The launch (or its supervision) failed for good: the run ends FAILURE unless it already ended; the item fails. */
export async function failLaunch(input: RunWorkflowInput, err: unknown): Promise<void> {
  const failure = workFailureOf(err);
  await bookkeeping.endRunWithoutWorker(input.payload.runId, 'RUN_FAILURE', `launch failed: ${failure.message}`);
  await bookkeeping.failWork(input.workItemId, failure);
}

/**
 * Completes the launch item with the run's status: as a local activity of this workflow task
 * first (`inTask`; a few attempts), then as the retry-forever activity.
 */
export async function completeLaunchItem(workItemId: string, status: RunStatus, inTask: boolean): Promise<void> {
  if (inTask) {
    try {
      await localBookkeeping.completeWork(workItemId, { status });
      return;
    } catch (err) {
      if (isCancellation(err)) throw err;
    }
  }
  await bookkeeping.completeWork(workItemId, { status });
}
