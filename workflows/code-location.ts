// Work items answered by a location's code server: sync, schedule and sensor evaluation,
// and queries. Each workflow is one activity plus completing (or failing) its work item.
import type { WorkItemKind, WorkItemResult } from '../src/shared/work-items.js';
import { bookkeeping, codeQueries, workFailureOf } from './activity-options.js';
import type { WorkFailure, WorkItemInput } from './types.js';

type Outcome<K extends WorkItemKind> = { result: WorkItemResult<K> } | { failure: WorkFailure };

async function completeWith<K extends WorkItemKind>(
  workItemId: string,
  fn: () => Promise<WorkItemResult<K>>,
): Promise<Outcome<K>> {
  let result: WorkItemResult<K>;
  try {
    result = await fn();
  } catch (err) {
    const failure = workFailureOf(err);
    await bookkeeping.failWork(workItemId, failure);
    return { failure };
  }
  await bookkeeping.completeWork(workItemId, result);
  return { result };
}

export function syncCodeLocationWorkflow(
  input: WorkItemInput<'SYNC_CODE_LOCATION'>,
): Promise<Outcome<'SYNC_CODE_LOCATION'>> {
  return completeWith(input.workItemId, () => codeQueries.syncCodeLocation(input.payload));
}

export function evaluateScheduleWorkflow(
  input: WorkItemInput<'EVALUATE_SCHEDULE'>,
): Promise<Outcome<'EVALUATE_SCHEDULE'>> {
  return completeWith(input.workItemId, () => codeQueries.evaluateSchedule(input.payload));
}

export function evaluateSensorWorkflow(input: WorkItemInput<'EVALUATE_SENSOR'>): Promise<Outcome<'EVALUATE_SENSOR'>> {
  return completeWith(input.workItemId, () => codeQueries.evaluateSensor(input.payload));
}

export function queryCodeLocationWorkflow(
  input: WorkItemInput<'QUERY_CODE_LOCATION'>,
): Promise<Outcome<'QUERY_CODE_LOCATION'>> {
  return completeWith(input.workItemId, () => codeQueries.queryCodeLocation(input.payload));
}
