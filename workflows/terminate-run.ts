// TERMINATE_RUN: deliver the public `terminate` signal to `run-<runId>`. If that workflow is
// gone or finished, there is nothing to stop; if it never started, the run is ended CANCELED
// here so a later launch finds it stopped and never spawns it.
import { getExternalWorkflowHandle } from '@temporalio/workflow';
import { bookkeeping } from './activity-options.js';
import { terminateSignal } from './run.js';
import { runWorkflowId, type WorkItemInput } from './types.js';

export async function terminateRunWorkflow(input: WorkItemInput<'TERMINATE_RUN'>): Promise<{ delivered: boolean }> {
  const { runId } = input.payload;
  let delivered = true;
  try {
    await getExternalWorkflowHandle(runWorkflowId(runId)).signal(terminateSignal, {
      reason: `work item ${input.workItemId}`,
    });
  } catch {
    delivered = false;
  }
  // A no-op when the run already ended (endRun checks the stored status first).
  if (!delivered) await bookkeeping.endRunWithoutWorker(runId, 'RUN_CANCELED', 'run terminated before it was launched');
  await bookkeeping.completeWork(input.workItemId, { acknowledged: true });
  return { delivered };
}
