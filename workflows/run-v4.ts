// runWorkflowV4: the run workflow with the launch inside its supervision. The first workflow
// task schedules one activity, superviseRun on the run's host, which launches (joining the
// launch the poller began ahead, else launching itself, idempotently: adopt before spawn) and
// then supervises. V3's first task held a local activity (launchRunHere) until the launch was
// reported, and one that waited longer than its 5 s (a burst's launches wait seconds for a boot
// slot) went on as a launchRun activity: an activity task, a workflow task and two activations
// more per run. Here a noop run is 2 workflow tasks and 1 activity (11 history events) however
// long its launch waits. Termination: terminateProcess on the host waits for a launch under way
// there and keeps a later one from starting the worker (activities/run-process.ts).
import { condition, isCancellation, setHandler } from '@temporalio/workflow';
import type { LaunchHandle, SuperviseResult } from '../activities/index.js';
import { bookkeeping, hostActivities } from './activity-options.js';
import { completeLaunchItem, failLaunch, terminateAndDrain } from './run-endings.js';
import { phaseQuery, terminateSignal } from './run.js';
import type { RunPhase, RunWorkflowInput, RunWorkflowResult } from './types.js';

export async function runWorkflowV4(input: RunWorkflowInput & { hostTaskQueue?: string }): Promise<RunWorkflowResult> {
  const { runId } = input.payload;
  let phase: RunPhase = 'launching';
  let terminateRequested = false;
  setHandler(phaseQuery, () => phase);
  setHandler(terminateSignal, () => {
    terminateRequested = true;
  });
  const host = hostActivities(input.hostTaskQueue ?? (await bookkeeping.hostQueue()));
  const handle: LaunchHandle = { runId, launcher: '', ref: '', adopted: false };

  let result: SuperviseResult | undefined;
  try {
    if (terminateRequested) {
      phase = 'finalizing';
      result = {
        status: await bookkeeping.endRunWithoutWorker(runId, 'RUN_CANCELED', 'run terminated before it was launched'),
        lastSeq: 0,
      };
    } else {
      const supervised = host.superviseRun(handle, { launch: input.payload, completeWorkItem: input.workItemId });
      // The launch is the host's now: from this workflow's side the run is under way.
      phase = 'running';
      const settled = supervised.then((r) => {
        result = r;
      });
      await Promise.race([settled, condition(() => terminateRequested)]);
      if (result === undefined) {
        phase = 'terminating';
        // The host signals the worker after a launch under way there, or starts none later.
        result = (await terminateAndDrain(host, handle, input, settled)) ?? result;
      }
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The launch (or supervision) failed for good: the run ends FAILURE unless it already ended.
    phase = 'finalizing';
    await failLaunch(input, err);
    phase = 'done';
    return { status: 'FAILURE' };
  }
  phase = 'finalizing';
  if (!result!.itemCompleted) await completeLaunchItem(input.workItemId, result!.status, true);
  phase = 'done';
  return { status: result!.status };
}
