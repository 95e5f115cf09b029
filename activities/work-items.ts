// Completing work items. Both calls are idempotent on the control plane (keyed by item id),
// so a retried activity after a lost response is harmless.
//
// answerWorkItem asks the code server and completes the item in the same activity: one
// activity task and one workflow task per item instead of two of each (measured in
// bench/README.md, throughput). If completing fails, it still returns the answer and the
// workflow completes the item with its own retry-forever bookkeeping activity, as before.
// As a regular activity it heartbeats while it waits: an attempt whose worker died or never
// ran it (a lost task under load) then times out within the heartbeat timeout, not at its
// start-to-close, and the retry asks again (completion is idempotent by item id).
import { Context } from '@temporalio/activity';
import type { WorkItemPayload, WorkItemResult } from '../src/shared/work-items.js';
import { createCodeLocationActivities } from './code-location.js';
import { coded } from './failures.js';
import type { ActivityDeps } from './ports.js';

/** How often answerWorkItem heartbeats while it waits (the V3 heartbeat timeout is 15 s). */
const ANSWER_HEARTBEAT_MS = 3_000;

/** Work items a location's code server answers. */
export type CodeQueryKind = 'SYNC_CODE_LOCATION' | 'EVALUATE_SCHEDULE' | 'EVALUATE_SENSOR' | 'QUERY_CODE_LOCATION';

/** What answerWorkItem returns: the answer, and whether the item is already COMPLETED with it. */
export interface Answer<K extends CodeQueryKind> {
  result: WorkItemResult<K>;
  completed: boolean;
}

export function createWorkItemActivities(deps: ActivityDeps) {
  const queries = createCodeLocationActivities(deps);
  const ask: { [K in CodeQueryKind]: (payload: WorkItemPayload<K>) => Promise<WorkItemResult<K>> } = {
    SYNC_CODE_LOCATION: (p) => queries.syncCodeLocation(p),
    EVALUATE_SCHEDULE: (p) => queries.evaluateSchedule(p),
    EVALUATE_SENSOR: (p) => queries.evaluateSensor(p),
    QUERY_CODE_LOCATION: (p) => queries.queryCodeLocation(p),
  };

  return {
    async completeWork(workItemId: string, result: unknown): Promise<void> {
      await coded(() => deps.controlPlane.completeWork(deps.agentId(), workItemId, result));
      deps.logger.info({ workItemId }, 'work item completed');
    },
    async failWork(workItemId: string, error: { code: string; message: string }): Promise<void> {
      await coded(() => deps.controlPlane.failWork(deps.agentId(), workItemId, error));
      deps.logger.warn({ workItemId, code: error.code }, 'work item failed');
    },
    /**
     * Asks the code server (throwing what the query throws, for failWork), then completes the
     * item. A retry after a lost activity result asks again; the item is completed only once
     * (completeWork returns an already finished item unchanged).
     */
    async answerWorkItem<K extends CodeQueryKind>(
      workItemId: string,
      kind: K,
      payload: WorkItemPayload<K>,
    ): Promise<Answer<K>> {
      // A local activity (V3 evaluations) is kept alive by its workflow task instead.
      const ctx = Context.current();
      const beat = ctx.info.isLocal ? undefined : setInterval(() => ctx.heartbeat(), ANSWER_HEARTBEAT_MS);
      if (beat) ctx.heartbeat();
      try {
        const result = await ask[kind](payload);
        try {
          await deps.controlPlane.completeWork(deps.agentId(), workItemId, result);
        } catch (err) {
          deps.logger.warn(
            { workItemId, err: (err as Error).message },
            'completing the item from the activity failed; the workflow retries it',
          );
          return { result, completed: false };
        }
        deps.logger.info({ workItemId }, 'work item completed');
        return { result, completed: true };
      } finally {
        clearInterval(beat);
      }
    },
    /** The task queue of the agent executing this activity: pins a run to this host. */
    hostQueue(): Promise<string> {
      return Promise.resolve(deps.hostTaskQueue);
    },
  };
}
