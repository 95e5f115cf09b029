// Activity proxies with their timeouts and retry policies, shared by all workflows.
import {
  proxyActivities,
  proxyLocalActivities,
  ActivityCancellationType,
  ApplicationFailure,
  ActivityFailure,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { errorCode } from '../src/shared/errors.js';
import type { WorkFailure } from './types.js';

/**
 * Control-plane bookkeeping (complete/fail work, end a run without a worker, find the host
 * queue). Retries forever with a capped interval: the control plane may be down for a while,
 * and every one of these calls is idempotent.
 */
export const bookkeeping = proxyActivities<Activities>({
  // Each is one short HTTP call: an attempt lost with a kill -9'd agent is retried elsewhere
  // after this long (it was 1 minute, which held runs of a killed agent back for a minute).
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * Code-server calls: a few attempts (the activity itself retries UNAVAILABLE), then failWork.
 * No heartbeat timeout: an attempt lost with its worker waits out the 5 minutes (V1 and V2
 * types only, kept for executions already running; V3 uses `answers` below).
 */
export const codeQueries = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
});

const ANSWER_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 };

/**
 * answerWorkItem as a regular activity (syncs and queries, V3 types). It heartbeats while it
 * waits, so an attempt whose worker died or never ran it (a task lost under load) times out
 * after 15 s and is retried, instead of holding the item for its whole start-to-close. The
 * start-to-close bounds a live attempt at what its work may take: a sync waits up to 3 minutes
 * for the location to load (plus two control-plane calls of at most 30 s); a query up to
 * 60 s for a starting code server and 60 s for the user-code call (plus its completion).
 */
export const answers = {
  sync: proxyActivities<Activities>({
    startToCloseTimeout: '4 minutes',
    heartbeatTimeout: '15s',
    retry: ANSWER_RETRY,
  }),
  query: proxyActivities<Activities>({
    startToCloseTimeout: '3 minutes',
    heartbeatTimeout: '15s',
    retry: ANSWER_RETRY,
  }),
};

/**
 * The same code-server calls as local activities: run by the worker that runs the workflow task,
 * inside that task (no activity task to schedule and match, no second workflow task). For the
 * short evaluations (sensors, schedules); the SDK keeps a longer one alive by heartbeating its
 * workflow task, and retries locally with the same policy.
 */
export const localCodeQueries = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
});

/** Host-local activities, on the task queue of the agent that owns the process and spool. */
export function hostActivities(taskQueue: string) {
  const short = proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '15s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
  });
  // One heartbeating activity for the whole life of the process. A kill -9'd agent stops
  // heartbeating, so within heartbeatTimeout the attempt times out and the retry goes to the
  // same host queue, where the restarted agent (same id, same queue) resumes from runCursor.
  const supervise = proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '3650 days',
    heartbeatTimeout: '15s',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5s' },
  });
  return { launchRun: short.launchRun, terminateProcess: short.terminateProcess, superviseRun: supervise.superviseRun };
}

/**
 * launchRunHere: the launch as a local activity of the run workflow's first task, on the agent
 * that runs that task (run.ts decides when). One attempt: a failure that may pass, or a timeout,
 * goes on as launchRun on the host queue (it retries there, and adopts what this attempt started).
 * Short: a warm hand-off takes milliseconds, and a launch that waits (for a boot slot, or a
 * standby still booting) must not hold one of the worker's workflow-task slots, which sensor
 * and schedule evaluations share, for the whole wait: after this long it waits as launchRun.
 */
export const localLaunch = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 seconds',
  retry: { maximumAttempts: 1 },
});

/**
 * completeWork as a local activity of the workflow task that sees the run's supervision end:
 * no activity task and no third workflow task per run. A few short attempts only, so a control
 * plane that is down does not hold a workflow-task slot; then it goes on as the retry-forever
 * `bookkeeping.completeWork` (run.ts). completeWork is idempotent by item id.
 */
export const localBookkeeping = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 seconds',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '1s', maximumAttempts: 3 },
});

/** The coded error behind an activity failure, for failWork. */
export function workFailureOf(err: unknown): WorkFailure {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof TimeoutFailure) {
    // The last attempt timed out: its worker died, hung or never ran it (the activity's own
    // failures are ApplicationFailures with their code).
    const what = err instanceof ActivityFailure ? err.activityType : 'the activity';
    return {
      code: errorCode('WORK_ITEM_ABANDONED'),
      message: `${what}: ${cause.timeoutType === 'HEARTBEAT' ? 'no heartbeat from the agent running it' : `${cause.timeoutType ?? 'a'} timeout`} on its last attempt (${cause.message ?? 'timed out'})`,
    };
  }
  if (cause instanceof ApplicationFailure) {
    return { code: cause.type ?? errorCode('INTERNAL'), message: cause.message };
  }
  return { code: errorCode('INTERNAL'), message: err instanceof Error ? err.message : String(err) };
}
