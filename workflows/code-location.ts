// Work items answered by a location's code server: sync, schedule and sensor evaluation,
// and queries. Each current (V3) workflow is one activity that asks the code server and
// completes the item: a local activity for schedule and sensor evaluation, a regular one that
// heartbeats for syncs and queries (so an attempt lost with its worker is retried within
// seconds). Failing the item (or completing it, when the control plane refused it from the
// activity) is a bookkeeping activity that retries until the control plane takes it.
// Older types (V1: ask, then completeWork as a second activity; V2: the one activity without
// a heartbeat timeout) stay registered so executions an older agent started still finish and
// their histories replay.
import type { WorkItemKind, WorkItemResult } from '../src/shared/work-items.js';
import type { CodeQueryKind } from '../activities/work-items.js';
import { answers, bookkeeping, codeQueries, localCodeQueries, workFailureOf } from './activity-options.js';
import type { WorkFailure, WorkItemInput } from './types.js';

type Outcome<K extends WorkItemKind> = { result: WorkItemResult<K> } | { failure: WorkFailure };

/**
 * One activity asks and completes (through `queries`: regular or local, with their timeouts);
 * bookkeeping only when that could not complete the item.
 */
async function answer<K extends CodeQueryKind>(
  kind: K,
  input: WorkItemInput<K>,
  queries: typeof codeQueries = codeQueries,
): Promise<Outcome<K>> {
  const { workItemId } = input;
  let answered: { result: WorkItemResult<K>; completed: boolean };
  try {
    answered = await queries.answerWorkItem(workItemId, kind, input.payload);
  } catch (err) {
    const failure = workFailureOf(err);
    await bookkeeping.failWork(workItemId, failure);
    return { failure };
  }
  if (!answered.completed) await bookkeeping.completeWork(workItemId, answered.result);
  return { result: answered.result };
}

export function evaluateScheduleWorkflowV3(
  input: WorkItemInput<'EVALUATE_SCHEDULE'>,
): Promise<Outcome<'EVALUATE_SCHEDULE'>> {
  return answer('EVALUATE_SCHEDULE', input, localCodeQueries);
}

export function evaluateSensorWorkflowV3(input: WorkItemInput<'EVALUATE_SENSOR'>): Promise<Outcome<'EVALUATE_SENSOR'>> {
  return answer('EVALUATE_SENSOR', input, localCodeQueries);
}

export function syncCodeLocationWorkflowV3(
  input: WorkItemInput<'SYNC_CODE_LOCATION'>,
): Promise<Outcome<'SYNC_CODE_LOCATION'>> {
  return answer('SYNC_CODE_LOCATION', input, answers.sync);
}

export function queryCodeLocationWorkflowV3(
  input: WorkItemInput<'QUERY_CODE_LOCATION'>,
): Promise<Outcome<'QUERY_CODE_LOCATION'>> {
  return answer('QUERY_CODE_LOCATION', input, answers.query);
}

export function syncCodeLocationWorkflowV2(
  input: WorkItemInput<'SYNC_CODE_LOCATION'>,
): Promise<Outcome<'SYNC_CODE_LOCATION'>> {
  return answer('SYNC_CODE_LOCATION', input);
}

export function evaluateScheduleWorkflowV2(
  input: WorkItemInput<'EVALUATE_SCHEDULE'>,
): Promise<Outcome<'EVALUATE_SCHEDULE'>> {
  return answer('EVALUATE_SCHEDULE', input);
}

export function evaluateSensorWorkflowV2(input: WorkItemInput<'EVALUATE_SENSOR'>): Promise<Outcome<'EVALUATE_SENSOR'>> {
  return answer('EVALUATE_SENSOR', input);
}

export function queryCodeLocationWorkflowV2(
  input: WorkItemInput<'QUERY_CODE_LOCATION'>,
): Promise<Outcome<'QUERY_CODE_LOCATION'>> {
  return answer('QUERY_CODE_LOCATION', input);
}

/** V1: ask, then complete (or fail) the item as a second activity. */
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
