// Upgrade safety: runWorkflowV3 executions started by the previous agent version run on this
// agent's activities. The poller here starts V3 exactly as that version did (same type, same
// input: the item, the payload, its own host queue), so the V3 code path (launchRunHere as a
// local activity, superviseRun with `withLaunch`, terminateProcess after the launch) meets
// today's activities, which V4 changed (superviseRun's `launch`, terminateProcess's record and
// wait), also after a restart of the agent mid-supervision. Real parts: control plane (SQLite),
// Temporal dev server, the in-process agent, real run workers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testTemporal } from '../../support/temporal.js';
import { HELLO_MODULE, startStack, type Stack } from '../../support/stack.js';
import { WORKFLOW_TYPES, runWorkflowId } from '../../../src/shared/workflow-contract.js';

const t = await testTemporal();

describe('runWorkflowV3 executions on this agent', () => {
  let stack: Stack;
  const v4 = WORKFLOW_TYPES.LAUNCH_RUN;
  before(async () => {
    // The previous agent version's poller: LAUNCH_RUN starts runWorkflowV3.
    (WORKFLOW_TYPES as { LAUNCH_RUN: string }).LAUNCH_RUN = 'runWorkflowV3';
    stack = await startStack({ temporalAddress: t.address });
    await stack.startAgent();
    await stack.deploy('hello', HELLO_MODULE);
  });
  after(async () => {
    (WORKFLOW_TYPES as { LAUNCH_RUN: string }).LAUNCH_RUN = v4;
    await stack?.close();
  });

  async function history(id: string) {
    const events = (await t.client.workflow.getHandle(runWorkflowId(id)).fetchHistory()).events ?? [];
    return {
      type: events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name,
      activities: events.flatMap((e) => {
        const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
        return name ? [name] : [];
      }),
      markers: events.flatMap((e) => (e.markerRecordedEventAttributes ? [e.markerRecordedEventAttributes] : [])),
    };
  }

  async function launchItems(id: string): Promise<Array<{ status: string; result: string | null }>> {
    return stack.cp.store.db
      .selectFrom('work_items')
      .select(['status', 'result'])
      .where('run_id', '=', id)
      .where('kind', '=', 'LAUNCH_RUN')
      .execute();
  }

  test('a V3 run launches here (local activity), is supervised and ends SUCCESS, its item completed once', async () => {
    const id = await stack.launch('hello');
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(run.status, 'SUCCESS');
    // The launch report carries a quick run's first events (its end too), so the run can read
    // SUCCESS before the workflow has scheduled supervision: its history is read once it ended.
    assert.deepEqual(await t.client.workflow.getHandle(runWorkflowId(id)).result(), { status: 'SUCCESS' });
    const h = await history(id);
    assert.equal(h.type, 'runWorkflowV3');
    assert.deepEqual(h.activities, ['superviseRun']);
    assert.ok(
      h.markers.some((m) => m.markerName === 'core_local_activity'),
      'the launch was V3\u2019s local activity',
    );
    assert.equal(stack.agent!.launcher.spawnCount(id), 1);
    assert.equal(run.events.filter((e) => e.type === 'RUN_START').length, 1);
    assert.equal(run.events.at(-1)?.type, 'RUN_SUCCESS');
    assert.deepEqual(await launchItems(id), [{ status: 'COMPLETED', result: JSON.stringify({ status: 'SUCCESS' }) }]);
  });

  test('a V3 run whose agent restarts mid-supervision: the retried superviseRun (withLaunch) adopts the worker, SUCCESS', async () => {
    const id = await stack.launch('sleepy', { seconds: 4 });
    await stack.waitRun(id, ['STARTED']);
    // A graceful stop cancels the supervision attempt (the worker lives on); the agent that
    // starts next on the same data dir (same id, same host queue) gets the retry.
    await stack.agent!.stop();
    await stack.startAgent();
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(run.status, 'SUCCESS');
    // The launch report carries a quick run's first events (its end too), so the run can read
    // SUCCESS before the workflow has scheduled supervision: its history is read once it ended.
    assert.deepEqual(await t.client.workflow.getHandle(runWorkflowId(id)).result(), { status: 'SUCCESS' });
    const h = await history(id);
    assert.equal(h.type, 'runWorkflowV3');
    assert.equal(stack.agent!.launcher.spawnCount(id), 1, 'adopted, not launched again');
    const types = run.events.map((e) => e.type);
    assert.equal(types.filter((x) => x === 'RUN_START').length, 1, types.join(','));
    assert.equal(types.at(-1), 'RUN_SUCCESS', types.join(','));
    assert.deepEqual(await launchItems(id), [{ status: 'COMPLETED', result: JSON.stringify({ status: 'SUCCESS' }) }]);
  });

  test('a V3 run terminated mid-supervision ends CANCELED: its worker signalled, its item completed once', async () => {
    const id = await stack.launch('sleepy', { seconds: 300 });
    await stack.waitRun(id, ['STARTED']);
    await stack.gql(`mutation($id: ID!) { terminateRun(id: $id) { status } }`, { id });
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(run.status, 'CANCELED');
    assert.deepEqual(await t.client.workflow.getHandle(runWorkflowId(id)).result(), { status: 'CANCELED' });
    const h = await history(id);
    assert.equal(h.type, 'runWorkflowV3');
    assert.deepEqual(h.activities, ['superviseRun', 'terminateProcess']);
    const launcher = stack.agent!.launcher;
    assert.equal(launcher.spawnCount(id), 1);
    assert.deepEqual(launcher.groupMembers(id), []);
    const types = run.events.map((e) => e.type);
    assert.equal(types.filter((x) => x === 'RUN_START').length, 1, types.join(','));
    assert.equal(types.filter((x) => x === 'RUN_CANCELED').length, 1, types.join(','));
    assert.equal(types.at(-1), 'RUN_CANCELED', types.join(','));
    assert.deepEqual(await launchItems(id), [{ status: 'COMPLETED', result: JSON.stringify({ status: 'CANCELED' }) }]);
  });
});
