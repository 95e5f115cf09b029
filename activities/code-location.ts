// Activities that ask a location's code server something: definitions (sync), schedule and
// sensor evaluation, partition and execution-plan queries. The asking itself is the
// CodeLocationPort's (deadlines, retries of a restarting server, wire formats); here each
// call only gets its failure coded for the workflow.
import type { WorkItemPayload, WorkItemResult } from '../src/shared/work-items.js';
import { coded } from './failures.js';
import type { ActivityDeps } from './ports.js';

export function createCodeLocationActivities(deps: Pick<ActivityDeps, 'codeLocations'>) {
  const port = deps.codeLocations;
  return {
    /** Ensures the location's server runs at `version` (or later) and reports its definitions. */
    syncCodeLocation(payload: WorkItemPayload<'SYNC_CODE_LOCATION'>): Promise<WorkItemResult<'SYNC_CODE_LOCATION'>> {
      return coded(() => port.sync(payload));
    },
    evaluateSchedule(payload: WorkItemPayload<'EVALUATE_SCHEDULE'>): Promise<WorkItemResult<'EVALUATE_SCHEDULE'>> {
      return coded(() => port.evaluateSchedule(payload));
    },
    evaluateSensor(payload: WorkItemPayload<'EVALUATE_SENSOR'>): Promise<WorkItemResult<'EVALUATE_SENSOR'>> {
      return coded(() => port.evaluateSensor(payload));
    },
    queryCodeLocation(payload: WorkItemPayload<'QUERY_CODE_LOCATION'>): Promise<WorkItemResult<'QUERY_CODE_LOCATION'>> {
      return coded(() => port.query(payload));
    },
  };
}
