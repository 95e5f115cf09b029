// A run's workflow closed in Temporal itself (Terminate in the Temporal UI or CLI) rather than by
// the public `terminate` signal never signals the worker. Before, the worker ran on and the run
// stayed STARTED for good, whether supervision had begun (it was told NOT_FOUND and ended) or not
// (the first workflow task had not completed: the launch begun ahead of it had started the
// worker). The agent now stops such a worker and ships to the end, so the run ends CANCELED with
// the worker's own events. A reset workflow is not closed: its new run supervises the worker.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runWorkflowId } from '../../../src/shared/workflow-contract.js';
import { HELLO_MODULE, startStack, type Stack } from '../../support/stack.js';
import { testTemporal } from '../../support/temporal.js';
import { until } from '../../support/wait.js';

const t = await testTemporal();

let stack: Stack;
before(async () => {
  stack = await startStack({ temporalAddress: t.address });
  await stack.startAgent();
  await stack.deploy('hello', HELLO_MODULE);
});
after(() => stack?.close());

/** PENDING_ACTIVITY_STATE_STARTED */
const PENDING_ACTIVITY_STATE_STARTED = 2;

/** superviseRun is running (a started activity is written to history only when it ends). */
async function superviseStarted(id: string): Promise<boolean> {
  const { raw } = await t.client.workflow.getHandle(runWorkflowId(id)).describe();
  return (raw.pendingActivities ?? []).some(
    (a) => a.activityType?.name === 'superviseRun' && Number(a.state) === PENDING_ACTIVITY_STATE_STARTED,
  );
}

/** The run of a workflow terminated in Temporal ends CANCELED, its worker's own end shipped, its worker gone. */
async function terminatedInTemporalEnds(id: string): Promise<void> {
  const launcher = stack.agent!.launcher;
  const handle = t.client.workflow.getHandle(runWorkflowId(id));
  // Supervision learns it with its next heartbeat (throttled to 0.8 x its 15 s timeout); a worker
  // nobody supervised is looked at 30 s after its launch.
  const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 90_000);
  assert.equal(run.status, 'CANCELED');
  // sleepy honours SIGTERM: the run's end is the worker's own RUN_CANCELED, shipped.
  const own = run.events.filter((e) => e.workerSeq !== null).map((e) => e.type);
  assert.equal(own.at(-1), 'RUN_CANCELED');
  // The worker writes RUN_CANCELED, then exits.
  await until('the worker group gone', () => launcher.groupMembers(id).length === 0, 15_000);
  assert.equal((await handle.describe()).status.name, 'TERMINATED');
}

test('a run whose workflow is terminated in Temporal while supervised: its worker is stopped, the run ends CANCELED', async () => {
  const id = await stack.launch('sleepy', { seconds: 300 });
  await stack.waitRun(id, ['STARTED']);
  await until('superviseRun started', () => superviseStarted(id), 30_000);
  assert.ok(stack.agent!.launcher.groupMembers(id).length >= 1, 'the worker runs');
  await t.client.workflow.getHandle(runWorkflowId(id)).terminate('an operator pressed Terminate in the Temporal UI');
  await terminatedInTemporalEnds(id);
});

test('a worker left running by an agent that stopped, whose workflow was then terminated in Temporal: the next agent stops it', async () => {
  const id = await stack.launch('sleepy', { seconds: 300 });
  await stack.waitRun(id, ['STARTED']);
  await until('superviseRun started', () => superviseStarted(id), 30_000);
  // Run workers outlive their agent (runs are resumable); nobody supervises this one now.
  await stack.agent!.stop();
  const handle = t.client.workflow.getHandle(runWorkflowId(id));
  await handle.terminate('an operator pressed Terminate in the Temporal UI while the agent was down');
  await stack.startAgent();
  // The new agent finds the recorded live worker and looks at its workflow once nobody supervised it for 30 s.
  await terminatedInTemporalEnds(id);
});

test('a reset workflow is not closed: its new run goes on supervising the same worker', async () => {
  const id = await stack.launch('sleepy', { seconds: 300 });
  await stack.waitRun(id, ['STARTED']);
  await until('superviseRun started', () => superviseStarted(id), 30_000);
  const launcher = stack.agent!.launcher;
  const pids = launcher.groupMembers(id);
  const handle = t.client.workflow.getHandle(runWorkflowId(id));
  const first = await handle.describe();
  const events = (await handle.fetchHistory()).events ?? [];
  const taskDone = events.find((e) => e.workflowTaskCompletedEventAttributes);
  assert.ok(taskDone?.eventId, 'the first workflow task completed');
  await t.client.workflowService.resetWorkflowExecution({
    namespace: t.client.options.namespace,
    workflowExecution: { workflowId: runWorkflowId(id), runId: first.runId },
    reason: 'an operator reset the run workflow',
    workflowTaskFinishEventId: taskDone.eventId,
    requestId: `reset-${id}`,
  });
  // The old run's supervision is answered NOT_FOUND within a heartbeat (~12 s) and its workflow
  // asked for at once: open (the new run), so the worker is left to the new run's supervision.
  await new Promise((r) => setTimeout(r, 16_000));
  const latest = await handle.describe();
  assert.notEqual(latest.runId, first.runId);
  assert.equal(latest.status.name, 'RUNNING');
  assert.equal((await stack.run(id)).status, 'STARTED');
  assert.deepEqual(launcher.groupMembers(id), pids, 'the same worker still runs');
  await handle.signal('terminate');
  const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 60_000);
  assert.equal(run.status, 'CANCELED');
});
