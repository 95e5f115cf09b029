// The shape of a sensor (and schedule) evaluation's Temporal path on an `all`-mode agent, read
// from the workflow history: the first workflow task comes back in the start response (eager
// start, no task-queue match), and the evaluation is one workflow task with a local activity
// (no activity task, no second workflow task). The throughput benchmark measures what this saves.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { enqueueWork } from '../../../src/control-plane/store/work-items.js';
import { workItemWorkflowId } from '../../../src/shared/workflow-contract.js';
import { testTemporal } from '../../support/temporal.js';
import { HELLO_MODULE, startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';

const t = await testTemporal();
let stack: Stack;

before(async () => {
  stack = await startStack({ temporalAddress: t.address });
  await stack.startAgent('all');
  const inbox = join(stack.dataDir, 'inbox');
  mkdirSync(inbox, { recursive: true });
  await stack.deploy('hello', HELLO_MODULE, { OUTPOST_FILE_SENSOR_DIR: inbox });
});
after(async () => {
  await stack?.close();
});

async function finished(id: string, timeoutMs?: number) {
  return until(
    `work item ${id} finished`,
    async () => {
      const row = await stack.cp.store.db
        .selectFrom('work_items')
        .select(['status', 'error'])
        .where('id', '=', id)
        .executeTakeFirst();
      return row && (row.status === 'COMPLETED' || row.status === 'FAILED') ? row : undefined;
    },
    timeoutMs,
  );
}

async function evaluated(id: string) {
  const item = await finished(id);
  assert.equal(item.status, 'COMPLETED', String(item.error));
  const handle = t.client.workflow.getHandle(workItemWorkflowId(id));
  await handle.result();
  return (await handle.fetchHistory()).events ?? [];
}

test('an all-mode agent starts a sensor workflow eagerly: the first task comes back with the start', async () => {
  const { item } = await enqueueWork(stack.cp.store, {
    kind: 'EVALUATE_SENSOR',
    payload: { location: 'hello', sensor: 'file_sensor', cursor: null },
  });
  const events = await evaluated(item.id);
  const first = events[0]?.workflowExecutionStartedEventAttributes;
  assert.equal(first?.eagerExecutionAccepted, true, 'the server handed the first task back with the start');
});

test('a sensor evaluation is one workflow task with a local activity: no activity task, no second task', async () => {
  const { item } = await enqueueWork(stack.cp.store, {
    kind: 'EVALUATE_SENSOR',
    payload: { location: 'hello', sensor: 'file_sensor', cursor: null },
  });
  const events = await evaluated(item.id);
  const count = (has: (e: (typeof events)[number]) => unknown): number => events.filter(has).length;
  const shape = JSON.stringify(events.map((e) => e.eventType));
  assert.equal(
    count((e) => e.activityTaskScheduledEventAttributes),
    0,
    shape,
  );
  assert.equal(
    count((e) => e.workflowTaskCompletedEventAttributes),
    1,
    shape,
  );
  assert.equal(
    count((e) => e.markerRecordedEventAttributes),
    1,
    shape,
  );
});

test('a sensor the location does not have fails its item with a coded error', async () => {
  const { item } = await enqueueWork(stack.cp.store, {
    kind: 'EVALUATE_SENSOR',
    payload: { location: 'hello', sensor: 'no_such_sensor', cursor: null },
  });
  const row = await finished(item.id);
  assert.equal(row.status, 'FAILED');
  assert.match(String(row.error), /OUTPOST_ERR_/);
});

test('slow evaluations in flight hold no workflow-task slot another item needs', async () => {
  // A local activity keeps its workflow task open: with the SDK's default 40 workflow-task slots,
  // 45 slow evaluations would stall every other workflow of the agent until one finished.
  const gate = join(stack.dataDir, 'gate');
  mkdirSync(gate, { recursive: true });
  await stack.deploy('gated', resolve('test/fixtures/user-code/gated-sensor/definitions.ts'), {
    OUTPOST_GATE_DIR: gate,
  });
  const slow: string[] = [];
  for (let i = 0; i < 45; i++) {
    const { item } = await enqueueWork(stack.cp.store, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'gated', sensor: 'gated_sensor', cursor: null },
    });
    slow.push(item.id);
  }
  const startedCount = (): number =>
    existsSync(join(gate, 'started')) ? readFileSync(join(gate, 'started'), 'utf8').split('\n').length - 1 : 0;
  try {
    // Well within the code server's 30 s call timeout, which would otherwise free the slots.
    await until('45 evaluations in the code server at once', () => startedCount() >= 45, 20_000);
    const { item } = await enqueueWork(stack.cp.store, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'hello', sensor: 'file_sensor', cursor: null },
    });
    // Not a timing assertion: the other item finishes at all while the 45 still wait.
    assert.equal((await finished(item.id, 30_000)).status, 'COMPLETED');
    assert.equal(startedCount(), 45, 'no slow evaluation was retried meanwhile');
  } finally {
    writeFileSync(join(gate, 'open'), '');
  }
  for (const id of slow) {
    const row = await finished(id);
    assert.equal(row.status, 'COMPLETED', String(row.error));
  }
});
