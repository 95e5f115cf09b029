// Inputs, outputs and the public signal/query names of Outpost's workflows. Pure: shared by
// the workflows, the poller that starts them, and tests.
import type { WorkItemKind, WorkItemPayload, RunStatus } from '../src/shared/work-items.js';

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

/**
 * Workflow type started for each work-item kind. The code-server kinds are V2 (one activity
 * asks and completes); their V1 types stay registered for executions already running.
 */
export const WORKFLOW_TYPES = {
  SYNC_CODE_LOCATION: 'syncCodeLocationWorkflowV2',
  EVALUATE_SCHEDULE: 'evaluateScheduleWorkflowV2',
  EVALUATE_SENSOR: 'evaluateSensorWorkflowV2',
  QUERY_CODE_LOCATION: 'queryCodeLocationWorkflowV2',
  LAUNCH_RUN: 'runWorkflow',
  TERMINATE_RUN: 'terminateRunWorkflow',
} as const satisfies Record<WorkItemKind, string>;

/** Public names: an operator may send `terminate` from the Temporal UI or CLI. */
export const TERMINATE_SIGNAL = 'terminate';
export const PHASE_QUERY = 'phase';
