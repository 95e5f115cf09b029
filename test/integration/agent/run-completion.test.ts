// The launch item's completion (runWorkflowV3: by the supervision that sees the run end) when
// the control plane refuses it, and when an attempt is lost right after completing it: the item
// ends COMPLETED once with the run's status, the run SUCCESS, one worker.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeEachDialect } from '../../support/storage.js';
import { testTemporal } from '../../support/temporal.js';
import { HELLO_MODULE, startStack, type Stack } from '../../support/stack.js';
import { runWorkflowId } from '../../../src/shared/workflow-contract.js';
import { until } from '../../support/wait.js';

// At top level, so the shared connection's cleanup hook belongs to the file, not a suite.
const t = await testTemporal();

/** Launches hello and waits for its run workflow's result, SUCCESS; the run's id. */
async function launchToSuccess(stack: Stack): Promise<string> {
  const id = await stack.launch('hello');
  const handle = t.client.workflow.getHandle(runWorkflowId(id));
  await until(
    'the run workflow to start',
    () =>
      handle.describe().then(
        () => true,
        () => undefined,
      ),
    30_000,
  );
  assert.deepEqual(await handle.result(), { status: 'SUCCESS' });
  return id;
}

describeEachDialect("agent: a run's launch item completed", (target) => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ databaseUrl: await target.freshUrl(), temporalAddress: t.address });
    await stack.startAgent();
    await stack.deploy('hello', HELLO_MODULE);
  });
  after(() => stack?.close());

  test('a completion the control plane refuses is retried until the item is completed, the run SUCCESS', async () => {
    // Supervision's own attempts fail (as with a control plane down): superviseRun is retried, and
    // a retry that finds the run already ended leaves the item to the workflow's completeWork.
    const cp = stack.agent!.controlPlane;
    const completeWork = cp.completeWork.bind(cp);
    let refused = 0;
    cp.completeWork = (agentId, itemId, result) => {
      if (refused < 3) {
        refused++;
        return Promise.reject(new Error('control plane unavailable (test)'));
      }
      return completeWork(agentId, itemId, result);
    };
    let id: string;
    try {
      id = await launchToSuccess(stack);
    } finally {
      cp.completeWork = completeWork;
    }
    assert.equal(refused, 3);
    const events = (await t.client.workflow.getHandle(runWorkflowId(id)).fetchHistory()).events ?? [];
    const activities = events.flatMap((e) => {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return name ? [name] : [];
    });
    assert.deepEqual(activities, ['superviseRun']);
    const item = await stack.cp.store.db
      .selectFrom('work_items')
      .select(['status'])
      .where('run_id', '=', id)
      .where('kind', '=', 'LAUNCH_RUN')
      .executeTakeFirstOrThrow();
    assert.equal(item.status, 'COMPLETED');
  });

  test('a supervision attempt lost right after it completed the item: the item stays completed once, the run SUCCESS', async () => {
    // As if the agent died between superviseRun's completeWork and its result reaching Temporal:
    // the attempt fails after the item is completed, the retry finds the run ended, and the item
    // is completed again (idempotent by id) with the same status; one worker, one execution.
    const cp = stack.agent!.controlPlane;
    const completeWork = cp.completeWork.bind(cp);
    let calls = 0;
    cp.completeWork = async (agentId, itemId, result) => {
      calls++;
      await completeWork(agentId, itemId, result);
      if (calls === 1) throw new Error('lost with its agent after completing (test)');
    };
    let id: string;
    try {
      id = await launchToSuccess(stack);
    } finally {
      cp.completeWork = completeWork;
    }
    assert.ok(calls >= 2, `completeWork called ${calls} times`);
    assert.equal((await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'])).status, 'SUCCESS');
    const items = await stack.cp.store.db
      .selectFrom('work_items')
      .select(['status', 'result'])
      .where('kind', '=', 'LAUNCH_RUN')
      .where('run_id', '=', id)
      .execute();
    assert.deepEqual(items, [{ status: 'COMPLETED', result: JSON.stringify({ status: 'SUCCESS' }) }]);
    assert.equal(stack.agent!.launcher.spawnCount(id), 1);
  });
});
