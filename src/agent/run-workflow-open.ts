// Whether a run's workflow is still open in Temporal, asked by its id (so the latest run: after
// a reset, the new one). Supervision asks when its heartbeat was answered NOT_FOUND, to tell a
// workflow closed in Temporal itself (Terminate in the UI or CLI, a timeout), whose worker it
// must stop, from a reset workflow, whose new run goes on with the worker.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { runWorkflowId } from '../shared/workflow-contract.js';

/** Statuses of a workflow that will never act again. */
const CLOSED: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

/** True while open, false once closed or gone, undefined when Temporal could not be asked. */
export function runWorkflowOpen(client: Client): (runId: string) => Promise<boolean | undefined> {
  return async (runId) => {
    try {
      const { status } = await client.workflow.getHandle(runWorkflowId(runId)).describe();
      return !CLOSED.has(status.name);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      return undefined;
    }
  };
}
