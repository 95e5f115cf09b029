// The contract between the agent's poller and worker and its workflows: workflow type per
// work-item kind, workflow ids, and the public signal and query names. Pure and import-free
// (types aside), so the workflow bundle may import it; operators rely on these names.
import type { WorkItemKind } from './work-items.js';

/**
 * Workflow type started for each work-item kind. The code-server kinds are one activity that
 * asks and completes: a local one for schedule and sensor evaluation, a regular one that
 * heartbeats for syncs and queries; the older types stay registered for executions already
 * running. A launch runs runWorkflowV4: one activity (superviseRun) launches, supervises and
 * completes the item (V1-V3 stay registered for executions running).
 */
export const WORKFLOW_TYPES = {
  SYNC_CODE_LOCATION: 'syncCodeLocationWorkflowV3',
  EVALUATE_SCHEDULE: 'evaluateScheduleWorkflowV3',
  EVALUATE_SENSOR: 'evaluateSensorWorkflowV3',
  QUERY_CODE_LOCATION: 'queryCodeLocationWorkflowV3',
  LAUNCH_RUN: 'runWorkflowV4',
  TERMINATE_RUN: 'terminateRunWorkflow',
} as const satisfies Record<WorkItemKind, string>;

/** Public names: an operator may send `terminate` from the Temporal UI or CLI. */
export const TERMINATE_SIGNAL = 'terminate';
export const PHASE_QUERY = 'phase';

/** Workflow id of a run's workflow: one per run, whichever work item started it. */
export const runWorkflowId = (runId: string): string => `run-${runId}`;

/** Workflow id of any other work item's workflow. */
export const workItemWorkflowId = (workItemId: string): string => `wi-${workItemId}`;

/** Temporal workflow id for a work item: `run-<runId>` for launches, `wi-<workItemId>` otherwise. */
export function workflowIdFor(item: { kind: string; id: string; runId?: string | null }): string {
  if (item.kind === 'LAUNCH_RUN' && item.runId) return runWorkflowId(item.runId);
  return workItemWorkflowId(item.id);
}
