// Inputs and outputs of Outpost's workflows. Pure: shared by the workflows and tests.
import type { RunStatus } from '../src/shared/run-status.js';
import type { WorkItemKind, WorkItemPayload } from '../src/shared/work-items.js';

/** Every workflow gets its work item's id (to complete it) and its payload. */
export interface WorkItemInput<K extends WorkItemKind> {
  workItemId: string;
  payload: WorkItemPayload<K>;
}

export interface RunWorkflowInput extends WorkItemInput<'LAUNCH_RUN'> {
  /** SIGTERM → SIGKILL grace when terminated; default 10 s. */
  terminateGraceMs?: number;
}

export interface RunWorkflowResult {
  status: RunStatus;
}

/** What the run workflow is doing now (the `phase` query). */
export type RunPhase = 'launching' | 'running' | 'terminating' | 'finalizing' | 'done';

/** A work item the agent could not process, as passed to failWork. */
export interface WorkFailure {
  code: string;
  message: string;
}

// Workflow types, ids and the public signal/query names live in the shared contract (the poller
// and the worker read them there too).
export { WORKFLOW_TYPES, TERMINATE_SIGNAL, PHASE_QUERY, runWorkflowId } from '../src/shared/workflow-contract.js';
