// A run end to end through the real stack: control plane (SQLite and PostgreSQL), agent,
// Temporal dev server, code server and run workers. Launch, fail, terminate.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SA_JOB, SA_RUN_ID } from '../../../src/shared/search-attributes.js';
import { describeEachDialect } from '../../support/storage.js';
import { testTemporal } from '../../support/temporal.js';
import { HELLO_MODULE, startStack, until, type Stack } from './stack.js';
import { recordHistory } from './histories.js';

// At top level, so the shared connection's cleanup hook belongs to the file, not a suite.
const t = await testTemporal();

function assertContiguous(events: Array<{ seq: number }>): void {
  const seqs = events.map((e) => e.seq).filter((s) => s < 1_000_000_000);
  assert.deepEqual(
    seqs,
    Array.from({ length: seqs.length }, (_, i) => i + 1),
  );
}

describeEachDialect('agent: a run end to end', (target) => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ databaseUrl: await target.freshUrl(), temporalAddress: t.address });
    await stack.startAgent();
    await stack.deploy('hello', HELLO_MODULE);
  });
  after(() => stack?.close());

  test('hello: SUCCESS with every event, and its stdout stored', async () => {
    const id = await stack.launch('hello');
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(run.status, 'SUCCESS');
    const types = run.events.filter((e) => e.seq < 1_000_000_000).map((e) => e.type);
    assert.equal(types[0], 'RUN_START');
    assert.equal(types.at(-1), 'RUN_SUCCESS');
    for (const step of ['who', 'greeting', 'say']) {
      assert.ok(
        run.events.some((e) => e.type === 'STEP_START' && e.stepKey === step),
        `STEP_START ${step}`,
      );
      assert.ok(
        run.events.some((e) => e.type === 'STEP_SUCCESS' && e.stepKey === step),
        `STEP_SUCCESS ${step}`,
      );
    }
    assertContiguous(run.events);
    assert.match(await stack.computeLogs(id, 'stdout'), /hello from outpost/);
    const handle = t.client.workflow.getHandle(`run-${id}`);
    await handle.result();
    assert.equal(await handle.query<string>('phase'), 'done');
    const desc = await handle.describe();
    assert.equal(desc.typedSearchAttributes.get(SA_RUN_ID), id);
    assert.equal(desc.typedSearchAttributes.get(SA_JOB), 'hello');
    assert.equal(stack.agent!.launcher.spawnCount(id), 1);
    await recordHistory(t.client, `run-${id}`, 'run-success');
  });

  test('fail: FAILURE with the error and its stack', async () => {
    const id = await stack.launch('fail');
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(run.status, 'FAILURE');
    const stepFailure = run.events.find((e) => e.type === 'STEP_FAILURE');
    assert.match(stepFailure?.error?.message ?? '', /this op always fails/);
    assert.match(stepFailure?.error?.stack ?? '', /definitions\.ts/);
    assert.equal(run.events.filter((e) => e.seq < 1_000_000_000).at(-1)?.type, 'RUN_FAILURE');
    assertContiguous(run.events);
  });
});
