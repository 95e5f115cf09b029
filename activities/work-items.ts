// Completing work items. Both calls are idempotent on the control plane (keyed by item id),
// so a retried activity after a lost response is harmless.
import type { ActivityDeps } from './deps.js';
import { coded } from './deps.js';

export function createWorkItemActivities(deps: ActivityDeps) {
  return {
    async completeWork(workItemId: string, result: unknown): Promise<void> {
      await coded(() => deps.controlPlane.completeWork(deps.agentId(), workItemId, result));
      deps.logger.info({ workItemId }, 'work item completed');
    },
    async failWork(workItemId: string, error: { code: string; message: string }): Promise<void> {
      await coded(() => deps.controlPlane.failWork(deps.agentId(), workItemId, error));
      deps.logger.warn({ workItemId, code: error.code }, 'work item failed');
    },
    /** The task queue of the agent executing this activity: pins a run to this host. */
    hostQueue(): Promise<string> {
      return Promise.resolve(deps.hostTaskQueue);
    },
  };
}
