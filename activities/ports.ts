// The ports activities depend on, declared here and implemented by the agent (structurally:
// activities never import src/agent/). The composition root is the one place that knows both.
import type { WorkItemPayload, WorkItemResult } from '../src/shared/work-items.js';

/**
 * Asks a code location something, whatever kind of code server serves it (Outpost's SDK
 * server or a Dagster `api grpc` server). Each method takes the work item's payload and
 * returns its result; user-code failures throw OutpostError USER_CODE_ERROR, a server that
 * is down or restarting throws CODE_SERVER_UNAVAILABLE (retried).
 */
export interface CodeLocationPort {
  /** Ensures the location's server runs at `version` (or later) and has reported its definitions. */
  sync(payload: WorkItemPayload<'SYNC_CODE_LOCATION'>): Promise<WorkItemResult<'SYNC_CODE_LOCATION'>>;
  evaluateSchedule(payload: WorkItemPayload<'EVALUATE_SCHEDULE'>): Promise<WorkItemResult<'EVALUATE_SCHEDULE'>>;
  evaluateSensor(payload: WorkItemPayload<'EVALUATE_SENSOR'>): Promise<WorkItemResult<'EVALUATE_SENSOR'>>;
  query(payload: WorkItemPayload<'QUERY_CODE_LOCATION'>): Promise<WorkItemResult<'QUERY_CODE_LOCATION'>>;
}
