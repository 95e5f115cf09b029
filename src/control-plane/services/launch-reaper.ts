// Runs that were acknowledged but never launched. An agent acks a LAUNCH_RUN item once it has
// started the run's workflow; if that workflow never starts (a buggy or hostile agent, an ack
// that raced a Temporal outage) nothing else would ever move the run out of QUEUED. The control
// plane cannot ask Temporal (no ingress), so it keeps a deadline instead: an ACKED launch whose
// run has not reported launched within `launchDeadlineMs` goes back to the queue, where any
// agent claims it and starts (or finds, by its derived id) the workflow; after the item's
// attempts, the run fails with RUN_LAUNCH_TIMEOUT. Safe on any number of replicas: every
// change is conditional on the row being as read.
import { errorCode } from '../../shared/errors.js';
import { countEngineEvents } from '../store/run-events.js';
import { appendEngineEvent, lockRunIn } from '../store/runs.js';
import type { Store } from '../store/store.js';
import { listStaleAckedLaunches, requeueAcked } from '../store/work-queue.js';
import { failItem } from './work-service.js';

export interface ReapReport {
  requeued: string[];
  failed: string[];
}

const REQUEUE_MESSAGE = 'run not launched within';

export async function reapUnlaunchedRuns(store: Store, launchDeadlineMs: number): Promise<ReapReport> {
  const now = store.now();
  const stale = await listStaleAckedLaunches(store, now - launchDeadlineMs);
  const report: ReapReport = { requeued: [], failed: [] };
  const seconds = Math.round(launchDeadlineMs / 1000);
  for (const row of stale) {
    const runId = row.run_id!;
    const who = `agent ${row.lease_owner ?? '?'} acknowledged it (workflow ${row.workflow_id ?? '?'})`;
    // Attempts count claims; an agent may also ack a re-queued item without claiming it, so
    // earlier re-queues are counted too: either way the loop ends after max attempts.
    const tries = Math.max(Number(row.attempts), (await countEngineEvents(store.db, runId, `${REQUEUE_MESSAGE} `)) + 1);
    if (tries >= Number(row.max_attempts)) {
      const item = await failItem(
        store,
        row.id,
        {
          code: errorCode('RUN_LAUNCH_TIMEOUT'),
          message: `not launched within ${seconds} s of being acknowledged, ${tries} of ${row.max_attempts} attempts; last: ${who}`,
        },
        (eb) => eb.and([eb('status', '=', 'ACKED'), eb('updated_at', '=', row.updated_at)]),
        // Listed with its run QUEUED; reportRunLaunched does not touch the item's updated_at.
        ['QUEUED'],
      );
      if (item.status === 'FAILED') report.failed.push(runId);
      continue;
    }
    const requeued = await store.transaction(async (trx) => {
      if (!(await lockRunIn(trx, runId, ['QUEUED']))) return false;
      if (!(await requeueAcked(trx, row.id, row.updated_at, now))) return false;
      await appendEngineEvent(
        trx,
        store,
        runId,
        `${REQUEUE_MESSAGE} ${seconds} s: ${who}; queued again (attempt ${tries} of ${row.max_attempts})`,
        'warn',
        { code: errorCode('RUN_LAUNCH_TIMEOUT'), attempts: tries, launchDeadlineMs },
      );
      return true;
    });
    if (requeued) report.requeued.push(runId);
  }
  if (report.requeued.length) store.signals.notifyWork();
  return report;
}
