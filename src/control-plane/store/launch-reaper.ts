// Runs that were acknowledged but never launched. An agent acks a LAUNCH_RUN item once it has
// started the run's workflow; if that workflow never starts (a buggy or hostile agent, an ack
// that raced a Temporal outage) nothing else would ever move the run out of QUEUED. The control
// plane cannot ask Temporal (no ingress), so it keeps a deadline instead: an ACKED launch whose
// run has not reported launched within `launchDeadlineMs` goes back to the queue, where any
// agent claims it and starts (or finds, by its derived id) the workflow; after the item's
// attempts, the run fails with RUN_LAUNCH_TIMEOUT. Safe on any number of replicas: every
// change is conditional on the row being as read.
import { errorCode } from '../../shared/errors.js';
import { appendEngineEvent } from './runs.js';
import type { Store } from './store.js';
import { failItem } from './work-queue.js';

export interface ReapReport {
  requeued: string[];
  failed: string[];
}

const REQUEUE_MESSAGE = 'run not launched within';

async function priorRequeues(store: Store, runId: string): Promise<number> {
  const row = await store.db
    .selectFrom('run_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('run_id', '=', runId)
    .where('type', '=', 'ENGINE')
    .where('message', 'like', `${REQUEUE_MESSAGE} %`)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function reapUnlaunchedRuns(store: Store, launchDeadlineMs: number): Promise<ReapReport> {
  const now = store.now();
  const stale = await store.db
    .selectFrom('work_items')
    .innerJoin('runs', 'runs.id', 'work_items.run_id')
    .select([
      'work_items.id',
      'work_items.run_id',
      'work_items.attempts',
      'work_items.max_attempts',
      'work_items.lease_owner',
      'work_items.workflow_id',
      'work_items.updated_at',
    ])
    .where('work_items.kind', '=', 'LAUNCH_RUN')
    .where('work_items.status', '=', 'ACKED')
    .where('work_items.updated_at', '<=', now - launchDeadlineMs)
    .where('runs.status', '=', 'QUEUED')
    .execute();
  const report: ReapReport = { requeued: [], failed: [] };
  const seconds = Math.round(launchDeadlineMs / 1000);
  for (const row of stale) {
    const runId = row.run_id!;
    const who = `agent ${row.lease_owner ?? '?'} acknowledged it (workflow ${row.workflow_id ?? '?'})`;
    // Attempts count claims; an agent may also ack a re-queued item without claiming it, so
    // earlier re-queues are counted too: either way the loop ends after max attempts.
    const tries = Math.max(Number(row.attempts), (await priorRequeues(store, runId)) + 1);
    if (tries >= Number(row.max_attempts)) {
      const item = await failItem(
        store,
        row.id,
        {
          code: errorCode('RUN_LAUNCH_TIMEOUT'),
          message: `not launched within ${seconds} s of being acknowledged, ${tries} of ${row.max_attempts} attempts; last: ${who}`,
        },
        (eb) => eb.and([eb('status', '=', 'ACKED'), eb('updated_at', '=', row.updated_at)]),
      );
      if (item.status === 'FAILED') report.failed.push(runId);
      continue;
    }
    const requeued = await store.transaction(async (trx) => {
      const res = await trx
        .updateTable('work_items')
        .set({ status: 'QUEUED', lease_owner: null, lease_expires_at: null, workflow_id: null, updated_at: now })
        .where('id', '=', row.id)
        .where('status', '=', 'ACKED')
        .where('updated_at', '=', row.updated_at)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
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
