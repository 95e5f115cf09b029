// The calls every kind of code location answers (Outpost's SDK server, a Dagster `api grpc`
// server): each takes a work item's payload and returns its result. The activities' code-location
// port is this shape; the agent's implementations and its router by kind satisfy it.
import type { WorkItemPayload, WorkItemResult } from './work-items.js';

/**
 * User-code failures throw OutpostError USER_CODE_ERROR; a server that is down or restarting
 * throws CODE_SERVER_UNAVAILABLE (retried).
 */
export interface CodeLocationCalls {
  /** Ensures the location's server runs at `version` (or later) and has reported its definitions. */
  sync(payload: WorkItemPayload<'SYNC_CODE_LOCATION'>): Promise<WorkItemResult<'SYNC_CODE_LOCATION'>>;
  evaluateSchedule(payload: WorkItemPayload<'EVALUATE_SCHEDULE'>): Promise<WorkItemResult<'EVALUATE_SCHEDULE'>>;
  evaluateSensor(payload: WorkItemPayload<'EVALUATE_SENSOR'>): Promise<WorkItemResult<'EVALUATE_SENSOR'>>;
  query(payload: WorkItemPayload<'QUERY_CODE_LOCATION'>): Promise<WorkItemResult<'QUERY_CODE_LOCATION'>>;
}
