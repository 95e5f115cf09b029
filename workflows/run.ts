// The run workflow (`run-<runId>`): launch the run worker on one host, supervise it until it
// exits, and stop it when the public `terminate` signal arrives.
//
// Why history does not grow with run length: supervision is ONE long-running activity that
// heartbeats (heartbeats are not history events) and ships events and logs itself. A run of a
// week and a run of a second produce the same 12 history events (runWorkflowV3), so
// continueAsNew is not needed; retries of that activity add no events either (only the final
// attempt is recorded).
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  patched,
  setHandler,
} from '@temporalio/workflow';
import type { LaunchHandle, LaunchOutcome, SuperviseOptions, SuperviseResult } from '../activities/index.js';
import type { RunStatus } from '../src/shared/run-status.js';
import { bookkeeping, hostActivities, localLaunch } from './activity-options.js';
import { completeLaunchItem, failLaunch, terminateAndDrain } from './run-endings.js';
import {
  PHASE_QUERY,
  TERMINATE_SIGNAL,
  type RunPhase,
  type RunWorkflowInput,
  type RunWorkflowResult,
} from './types.js';

export const terminateSignal = defineSignal<[{ reason?: string }?]>(TERMINATE_SIGNAL);
export const phaseQuery = defineQuery<RunPhase>(PHASE_QUERY);

const DEFAULT_GRACE_MS = 10_000;
/**
 * Patch: on `terminate`, signal the process at once from a short host activity instead of first
 * cancelling the supervising activity, whose cancellation arrives only with its next heartbeat
 * (throttled by the SDK to 0.8 × heartbeatTimeout, ~12 s). Executions recorded before it replay
 * through the old branch.
 */
export const TERMINATE_AT_ONCE_PATCH = 'terminate-at-once';
/**
 * Patch: schedule superviseRun together with launchRun (it waits on the host for the launch to
 * be reported), so the spool is shipped by supervision alone and RUN_START does not wait for a
 * workflow task after the launch. Executions recorded before it replay launch-then-supervise.
 */
export const SUPERVISE_WITH_LAUNCH_PATCH = 'supervise-with-launch';
/**
 * Patch: when the agent that claimed the run named its own host queue (it runs this first
 * workflow task, started eagerly), launch as a local activity inside this task (launchRunHere)
 * instead of scheduling launchRun: no activity task round trip before the worker is handed the
 * run. Anywhere else, or after a failure that may pass, launchRun on the host queue as before.
 * Executions recorded before it replay through launchRun.
 */
export const LAUNCH_IN_TASK_PATCH = 'launch-in-task';
/**
 * Patch: complete the launch item as a local activity of the workflow task that sees the run
 * end (one activity task and one workflow task fewer per run); after its few attempts fail,
 * the retry-forever completeWork activity as before. Executions recorded before it replay
 * through the activity.
 */
export const COMPLETE_IN_TASK_PATCH = 'complete-in-task';

type RunInput = RunWorkflowInput & { hostTaskQueue?: string };

/**
 * The run workflow as first registered: each change since is behind its patch, so executions
 * recorded before a change replay through the old branch. New runs start runWorkflowV2.
 */
export async function runWorkflow(input: RunInput): Promise<RunWorkflowResult> {
  return runWith(input, patched);
}

/**
 * The same workflow with every patch above taken: no patch markers and none of the
 * TemporalChangeVersion search-attribute upserts the SDK records with each (6 history events
 * and 3 visibility writes per run). WORKFLOW_TYPES.LAUNCH_RUN names it for new runs.
 */
export async function runWorkflowV2(input: RunInput): Promise<RunWorkflowResult> {
  return runWith(input, () => true);
}

/**
 * V2 whose supervision completes the launch item itself once the run has ended (superviseRun's
 * `completeWorkItem`): no completeWork local activity, so one workflow activation and one
 * marker fewer per run (12 history events). A termination's drain still completes it here.
 * WORKFLOW_TYPES.LAUNCH_RUN names it for new runs; V1 and V2 executions replay as before.
 */
export async function runWorkflowV3(input: RunInput): Promise<RunWorkflowResult> {
  return runWith(input, () => true, true);
}

async function runWith(
  input: RunInput,
  has: (patchId: string) => boolean,
  completeInSupervise = false,
): Promise<RunWorkflowResult> {
  const { runId } = input.payload;
  let phase: RunPhase = 'launching';
  let terminateRequested = false;
  /** Set when the supervision that saw the run end completed its item. */
  let itemCompleted = false;
  setHandler(phaseQuery, () => phase);
  setHandler(terminateSignal, () => {
    terminateRequested = true;
  });

  // Host pinning: everything touching the process goes to one agent's host queue. An agent
  // that claimed the run and runs workers itself names its own queue in the input; otherwise
  // (a poller-only agent started us) this first activity runs on the shared queue and answers
  // with the queue of the agent that picked it up. Deterministic either way: the input is in
  // the history, so older histories (no hostTaskQueue) replay through the activity as before.
  const host = hostActivities(input.hostTaskQueue ?? (await bookkeeping.hostQueue()));

  let status: RunStatus;
  try {
    status = await launchAndSupervise();
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The launch failed for good (e.g. the worker cannot be spawned): the run ends FAILURE.
    phase = 'finalizing';
    await failLaunch(input, err);
    phase = 'done';
    return { status: 'FAILURE' };
  }
  phase = 'finalizing';
  if (!itemCompleted) await completeLaunchItem(input.workItemId, status, has(COMPLETE_IN_TASK_PATCH));
  phase = 'done';
  return { status };

  async function launchAndSupervise(): Promise<RunStatus> {
    if (terminateRequested) {
      phase = 'finalizing';
      return bookkeeping.endRunWithoutWorker(runId, 'RUN_CANCELED', 'run terminated before it was launched');
    }
    let result: SuperviseResult | undefined;
    const scope = new CancellationScope();
    const supervise = (h: LaunchHandle, opts: SuperviseOptions): Promise<void> =>
      scope
        .run(() => host.superviseRun(h, opts))
        .then((r) => {
          result = r;
          itemCompleted ||= r.itemCompleted === true;
        });
    const stopEarly = async (p: Promise<void>): Promise<void> => {
      scope.cancel();
      await p.catch(() => undefined);
    };
    const early = has(SUPERVISE_WITH_LAUNCH_PATCH)
      ? supervise(
          { runId, launcher: '', ref: '', adopted: false },
          { withLaunch: true, ...(completeInSupervise ? { completeWorkItem: input.workItemId } : {}) },
        )
      : undefined;
    let outcome: LaunchOutcome;
    try {
      outcome = await launch();
    } catch (err) {
      // Failed for good. The host has told supervision there is nothing to wait for; the cancel
      // covers an agent restarted in between.
      if (early) await stopEarly(early);
      throw err;
    }
    if ('skipped' in outcome) {
      if (early) await stopEarly(early);
      phase = 'finalizing';
      if (outcome.skipped !== 'CANCELING') return outcome.skipped;
      return bookkeeping.endRunWithoutWorker(runId, 'RUN_CANCELED', 'run terminated before it was launched');
    }
    const handle: LaunchHandle = outcome.launched;
    phase = 'running';
    const supervised = early ?? supervise(handle, {});
    await Promise.race([supervised, condition(() => terminateRequested)]);
    if (result === undefined && has(TERMINATE_AT_ONCE_PATCH)) {
      phase = 'terminating';
      // The host records the termination first, so the drain ends the run CANCELED. With the
      // agent dead both wait on the host queue and run when it is back.
      result = (await terminateAndDrain(host, handle, input, supervised)) ?? result;
      phase = 'finalizing';
      return result!.status;
    }
    if (result === undefined) {
      phase = 'terminating';
      scope.cancel();
      try {
        await supervised;
      } catch (err) {
        // Cancelled as asked, or failed because the host died meanwhile (the cancel-requested
        // attempt then ends in a heartbeat timeout, not a cancellation). Either way the process
        // is stopped and drained below, on the host queue, once its agent is back.
        if (!isCancellation(err) && !(err instanceof ActivityFailure)) throw err;
      }
      // If the run finished on its own meanwhile, terminateProcess finds nothing to signal.
      await host.terminateProcess(handle, input.terminateGraceMs ?? DEFAULT_GRACE_MS);
      phase = 'finalizing';
      // Drain: every event and byte the worker wrote before dying is shipped; RUN_CANCELED is
      // appended only if the worker did not write a terminal event itself.
      result = await host.superviseRun(handle, { terminating: true });
    }
    return result.status;
  }

  async function launch(): Promise<LaunchOutcome> {
    if (input.hostTaskQueue !== undefined && has(LAUNCH_IN_TASK_PATCH)) {
      try {
        const here = await localLaunch.launchRunHere(input.hostTaskQueue, input.payload);
        if (!('elsewhere' in here)) return here;
      } catch (err) {
        // Failed for good (the worker cannot be spawned): as launchRun failing for good would.
        if (isCancellation(err) || failedForGood(err)) throw err;
      }
    }
    return host.launchRun(input.payload);
  }
}

function failedForGood(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable === true;
}
