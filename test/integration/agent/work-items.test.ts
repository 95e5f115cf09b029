// Every other kind of work item through the real stack: terminate before launch, schedule and
// sensor ticks (deduped, cursors advancing), a broken location that is fixed, and a code
// server killed in the middle of a sensor evaluation.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Poller, type PollerOptions } from '../../../src/agent/poller.js';
import { findProcessByArgs } from '../../../src/agent/launchers/proc.js';
import { enqueueWork } from '../../../src/control-plane/store/work-items.js';
import { createLogger } from '../../../src/shared/logger.js';
import { testTemporal } from '../../support/temporal.js';
import { recordHistory } from '../../support/histories.js';
import { HELLO_MODULE, startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';
import { runWorkflowId } from '../../../src/shared/workflow-contract.js';

const t = await testTemporal();
const SDK = resolve('src/user-code/sdk/index.ts');

interface ItemView {
  id: string;
  status: string;
  workflowId: string | null;
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
}

describe('agent: work items', () => {
  let stack: Stack;
  let abort: AbortController;
  let polling: Promise<void>;
  let poller: Poller;

  /** The agent runs its workers; the test owns the poller so it can pause claiming. */
  function startPolling(extra: Partial<PollerOptions> = {}): void {
    abort = new AbortController();
    poller = new Poller({
      ...extra,
      controlPlane: stack.agent!.controlPlane,
      temporal: t.client,
      agentId: stack.agent!.agentId,
      taskQueue: stack.taskQueue,
      maxInFlight: 16,
      logger: createLogger({ name: 'test-poller', level: 'silent' }),
      waitMs: 1_000,
    });
    polling = poller.run(abort.signal);
  }
  async function stopPolling(): Promise<void> {
    abort.abort();
    await polling;
  }
  async function item(id: string): Promise<ItemView> {
    const r = await stack.gql<{ workItems: ItemView[] }>(
      `query { workItems(first: 1000) { id status workflowId result error { code message } } }`,
    );
    const found = r.workItems.find((i) => i.id === id);
    if (!found) throw new Error(`no work item ${id}`);
    return found;
  }
  const settled = (id: string): Promise<ItemView> =>
    until(`work item ${id} settled`, async () => {
      const i = await item(id);
      return i.status === 'COMPLETED' || i.status === 'FAILED' ? i : undefined;
    });
  const sensorCursor = async (location: string, sensor: string): Promise<string | null> => {
    const r = await stack.gql<{ codeLocation: { sensors: Array<{ name: string; cursor: string | null }> } }>(
      `query($l: String!) { codeLocation(name: $l) { sensors { name cursor } } }`,
      { l: location },
    );
    return r.codeLocation.sensors.find((s) => s.name === sensor)?.cursor ?? null;
  };
  const runsTagged = async (key: string, value: string): Promise<Array<{ id: string; status: string }>> => {
    const r = await stack.gql<{ runs: { nodes: Array<{ id: string; status: string; tags: Record<string, string> }> } }>(
      `query { runs(first: 200) { nodes { id status tags } } }`,
    );
    return r.runs.nodes.filter((n) => n.tags[key] === value);
  };

  before(async () => {
    stack = await startStack({ temporalAddress: t.address });
    await stack.startAgent('worker');
    startPolling();
    await stack.deploy('hello', HELLO_MODULE);
  });
  after(async () => {
    await stopPolling();
    await stack?.close();
  });

  test('terminate after the launch was claimed but before its workflow started: CANCELED, never spawned', async () => {
    await stopPolling();
    // The server may still hold the aborted long-poll for up to its waitMs (1 s); let it lapse so
    // it cannot claim the launch below.
    await new Promise((r) => setTimeout(r, 1_500));
    const id = await stack.launch('sleepy', { seconds: 300 });
    const claimed = await stack.agent!.controlPlane.claimWork(stack.agent!.agentId, 10, 2_000);
    const launchItem = claimed.find((i) => i.kind === 'LAUNCH_RUN' && i.runId === id);
    if (!launchItem) startPolling(); // keep the other tests able to run
    assert.ok(launchItem, 'the launch was claimed');
    const r = await stack.gql<{ terminateRun: { status: string } }>(
      `mutation($id: ID!) { terminateRun(id: $id) { status } }`,
      { id },
    );
    assert.equal(r.terminateRun.status, 'CANCELING');
    startPolling(); // claims TERMINATE_RUN: no run workflow yet, so the run is ended CANCELED
    await stack.waitRun(id, ['CANCELED', 'SUCCESS', 'FAILURE']);
    // The delayed start of the launch (a slow agent) finds the run stopped and spawns nothing.
    await poller.dispatch(launchItem);
    const handle = t.client.workflow.getHandle(runWorkflowId(id));
    assert.deepEqual(await handle.result(), { status: 'CANCELED' });
    const run = await stack.run(id);
    assert.equal(run.status, 'CANCELED');
    assert.equal(stack.agent!.launcher.spawnCount(id), 0);
    assert.equal((await settled(launchItem.id)).status, 'COMPLETED');
    await recordHistory(t.client, runWorkflowId(id), 'run-canceled-before-launch');
    const term = (
      await stack.gql<{ workItems: ItemView[] }>(
        `query($id: ID!) { workItems(filter: { runId: $id, kind: TERMINATE_RUN }) { id status workflowId result error { code message } } }`,
        { id },
      )
    ).workItems[0];
    assert.ok(term);
    assert.equal((await settled(term.id)).status, 'COMPLETED');
    await recordHistory(t.client, term.workflowId!, 'terminate-run');
  });

  test('the agent hosting a run SIGTERMs it as soon as it claims TERMINATE_RUN; the workflow still ends it CANCELED', async () => {
    await stopPolling();
    const local: Array<{ runId: string; signalled: boolean }> = [];
    startPolling({
      terminateLocally: async (runId) => {
        const signalled = await stack.agent!.launcher.requestTermination(runId);
        local.push({ runId, signalled });
        return signalled;
      },
    });
    try {
      const id = await stack.launch('sleepy', { seconds: 300 });
      await stack.waitRun(id, ['STARTED']);
      await until('the worker runs its step', async () =>
        (await stack.run(id)).events.some((e) => e.type === 'STEP_START') ? true : undefined,
      );
      await stack.gql(`mutation($id: ID!) { terminateRun(id: $id) { status } }`, { id });
      const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
      assert.equal(run.status, 'CANCELED');
      assert.deepEqual(local, [{ runId: id, signalled: true }]);
      assert.deepEqual(await t.client.workflow.getHandle(runWorkflowId(id)).result(), { status: 'CANCELED' });
      assert.equal(run.events.filter((e) => e.type === 'RUN_CANCELED').length, 1);
      assert.equal(stack.agent!.launcher.spawnCount(id), 1);
    } finally {
      await stopPolling();
      startPolling();
    }
  });

  test('a schedule tick enqueued twice creates exactly one run', async () => {
    const tickTimeMs = Date.UTC(2030, 0, 1, 12, 0);
    const payload = { location: 'hello', schedule: 'every_minute', tickTimeMs };
    const a = await enqueueWork(stack.cp.store, { kind: 'EVALUATE_SCHEDULE', payload });
    const b = await enqueueWork(stack.cp.store, { kind: 'EVALUATE_SCHEDULE', payload });
    assert.notEqual(a.item.id, b.item.id);
    const [ia, ib] = [await settled(a.item.id), await settled(b.item.id)];
    assert.equal(ia.status, 'COMPLETED');
    assert.equal(ib.status, 'COMPLETED');
    const runs = await runsTagged('outpost/tick', String(tickTimeMs));
    assert.equal(runs.length, 1);
    assert.equal((await stack.waitRun(runs[0]!.id, ['SUCCESS', 'FAILURE', 'CANCELED'])).status, 'SUCCESS');
    await recordHistory(t.client, ia.workflowId!, 'evaluate-schedule');
  });

  test('a sensor evaluation advances its cursor and requests one run per new file', async () => {
    const inbox = join(stack.dataDir, 'inbox');
    mkdirSync(inbox, { recursive: true });
    await stack.deploy('sensing', HELLO_MODULE, { OUTPOST_FILE_SENSOR_DIR: inbox });
    writeFileSync(join(inbox, 'a.txt'), 'a');
    writeFileSync(join(inbox, 'b.txt'), 'b');
    const first = await enqueueWork(stack.cp.store, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'sensing', sensor: 'file_sensor', cursor: null },
    });
    const done1 = await settled(first.item.id);
    assert.equal(done1.status, 'COMPLETED', JSON.stringify(done1.error));
    assert.equal(await sensorCursor('sensing', 'file_sensor'), 'b.txt');
    assert.equal((done1.result?.runRequests as unknown[]).length, 2);
    writeFileSync(join(inbox, 'c.txt'), 'c');
    const second = await enqueueWork(stack.cp.store, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'sensing', sensor: 'file_sensor', cursor: 'b.txt' },
    });
    const done2 = await settled(second.item.id);
    assert.equal(done2.status, 'COMPLETED');
    assert.equal(await sensorCursor('sensing', 'file_sensor'), 'c.txt');
    assert.deepEqual(
      (done2.result?.runRequests as Array<{ runKey: string }>).map((r) => r.runKey),
      ['c.txt'],
    );
    await recordHistory(t.client, done1.workflowId!, 'evaluate-sensor');
  });

  test('code-location queries: partition names and an execution plan', async () => {
    const names = await enqueueWork(stack.cp.store, {
      kind: 'QUERY_CODE_LOCATION',
      payload: { location: 'hello', query: 'partitionNames', job: 'greet_region', first: 1000 },
    });
    const done = await settled(names.item.id);
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done.error));
    assert.deepEqual(done.result, { answer: { keys: ['eu', 'us', 'apac'], offset: 0, total: 3 } });
    const plan = await enqueueWork(stack.cp.store, {
      kind: 'QUERY_CODE_LOCATION',
      payload: { location: 'hello', query: 'executionPlan', job: 'hello', opSelection: ['who', 'greeting'] },
    });
    const planned = await settled(plan.item.id);
    assert.deepEqual(
      (planned.result?.answer as Array<{ key: string }>).map((s) => s.key),
      ['who', 'greeting'],
    );
    const unknownJob = await enqueueWork(stack.cp.store, {
      kind: 'QUERY_CODE_LOCATION',
      payload: { location: 'hello', query: 'partitionNames', job: 'no_such_job' },
    });
    const failed = await settled(unknownJob.item.id);
    assert.equal(failed.status, 'FAILED');
    assert.match(failed.error?.code ?? '', /^OUTPOST_ERR_/);
    await recordHistory(t.client, done.workflowId!, 'query-code-location');
    await recordHistory(t.client, failed.workflowId!, 'query-code-location-failed');
  });

  test('a broken location shows ERROR, then LOADED once fixed and redeployed', async () => {
    const dir = join(stack.dataDir, 'fragile');
    mkdirSync(dir, { recursive: true });
    const module = join(dir, 'definitions.ts');
    writeFileSync(module, `throw new TypeError('broken on purpose for the agent test');\n`);
    await stack.deploy('fragile', module);
    const broken = await stack.locationStatus('fragile');
    assert.equal(broken.status, 'ERROR');
    assert.match(broken.loadError ?? '', /broken on purpose for the agent test/);
    writeFileSync(
      module,
      `import { defineLocation, job, op } from ${JSON.stringify(SDK)};\n` +
        `export default defineLocation({ name: 'fragile', jobs: [job({ name: 'mended', ops: [op({ name: 'ok' }, () => 1)] })] });\n`,
    );
    await stack.deploy('fragile', module);
    const fixed = await stack.locationStatus('fragile');
    assert.equal(fixed.status, 'LOADED', fixed.loadError ?? '');
    const jobs = await stack.gql<{ codeLocation: { jobs: Array<{ name: string }> } }>(
      `query { codeLocation(name: "fragile") { jobs { name } } }`,
    );
    assert.deepEqual(
      jobs.codeLocation.jobs.map((j) => j.name),
      ['mended'],
    );
    const syncs = (
      await stack.gql<{ workItems: ItemView[] }>(
        `query { workItems(filter: { kind: SYNC_CODE_LOCATION }, first: 100) { id status workflowId result error { code message } } }`,
      )
    ).workItems;
    const last = syncs.find((s) => s.status === 'COMPLETED');
    if (last?.workflowId) await recordHistory(t.client, last.workflowId, 'sync-code-location');
  });

  test('a code server killed mid-sensor-evaluation is restarted, and the next tick succeeds', async () => {
    const dir = join(stack.dataDir, 'slow');
    mkdirSync(dir, { recursive: true });
    const marker = join(dir, 'evaluating');
    const module = join(dir, 'definitions.ts');
    writeFileSync(
      module,
      `import { writeFileSync } from 'node:fs';\n` +
        `import { setTimeout as sleep } from 'node:timers/promises';\n` +
        `import { defineLocation, job, op, sensor } from ${JSON.stringify(SDK)};\n` +
        `const j = job({ name: 'j', ops: [op({ name: 'o' }, () => 1)] });\n` +
        `export default defineLocation({ name: 'slow', jobs: [j], sensors: [sensor({ name: 'slow_sensor', job: j, evaluate: async () => {\n` +
        `  writeFileSync(${JSON.stringify(marker)}, String(process.pid));\n  await sleep(3000);\n  return { skipReason: 'slept', cursor: String(Date.now()) };\n} })] });\n`,
    );
    await stack.deploy('slow', module);
    const before = findProcessByArgs(['code-server', '--location', 'slow']);
    assert.ok(before, 'the code server runs');
    const first = await enqueueWork(stack.cp.store, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'slow', sensor: 'slow_sensor', cursor: null },
    });
    await until('the sensor is evaluating', () => existsSync(marker));
    process.kill(before, 'SIGKILL');
    const done1 = await settled(first.item.id);
    const restarted = await until('a new code server', () => {
      const pid = findProcessByArgs(['code-server', '--location', 'slow']);
      return pid !== undefined && pid !== before ? pid : undefined;
    });
    assert.notEqual(restarted, before);
    // The interrupted evaluation was retried against the restarted server.
    assert.equal(done1.status, 'COMPLETED', JSON.stringify(done1.error));
    const second = await enqueueWork(stack.cp.store, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'slow', sensor: 'slow_sensor', cursor: null },
    });
    const done2 = await settled(second.item.id);
    assert.equal(done2.status, 'COMPLETED', JSON.stringify(done2.error));
    assert.equal(done2.result?.skipReason, 'slept');
    assert.equal((await stack.locationStatus('slow')).status, 'LOADED');
  });
});
