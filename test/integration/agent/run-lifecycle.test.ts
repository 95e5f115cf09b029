// A run end to end through the real stack: control plane (SQLite and PostgreSQL), agent,
// Temporal dev server, code server and run workers. Launch, fail, terminate.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SA_JOB, SA_RUN_ID } from '../../../src/shared/search-attributes.js';
import { describeEachDialect } from '../../support/storage.js';
import { testTemporal } from '../../support/temporal.js';
import { HELLO_MODULE, startStack, type Stack } from '../../support/stack.js';
import { recordHistory } from '../../support/histories.js';
import { WORKFLOW_TYPES, runWorkflowId } from '../../../src/shared/workflow-contract.js';
import { until } from '../../support/wait.js';
import { Context } from '@temporalio/activity';
import { OutpostError } from '../../../src/shared/errors.js';

/** Whether the caller runs inside a Temporal activity (Context.current() throws outside one). */
function inActivityContext(): boolean {
  try {
    Context.current();
    return true;
  } catch {
    return false;
  }
}

// At top level, so the shared connection's cleanup hook belongs to the file, not a suite.
const t = await testTemporal();

/** One public sequence 1..N over all events, and the worker's own seqs 1..M in the same order. */
function assertContiguous(events: Array<{ seq: number; workerSeq: number | null }>): void {
  const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  assert.deepEqual(
    events.map((e) => e.seq),
    oneToN(events.length),
  );
  const worker = events.flatMap((e) => (e.workerSeq === null ? [] : [e.workerSeq]));
  assert.deepEqual(worker, oneToN(worker.length));
}

/**
 * Termination reaches a worker that honours SIGTERM at once. Before, it waited for the
 * supervising activity's next heartbeat (throttled to 0.8 × 15 s): 11-12 s for every run. The
 * bound leaves room for a loaded machine; bench/terminate.ts measures the real figure.
 */
function assertPrompt(ms: number): void {
  assert.ok(ms < 6_000, `terminate → CANCELED took ${ms} ms`);
}

/** The step running at termination ends STEP_CANCELED (no error), never STEP_FAILURE. */
function assertStepCanceled(events: Array<{ type: string; stepKey?: string | null; error?: unknown }>): void {
  const nap = events.filter((e) => e.stepKey === 'nap').map((e) => e.type);
  assert.ok(nap.includes('STEP_CANCELED'), `nap events: ${nap.join(',')}`);
  assert.ok(!nap.includes('STEP_FAILURE'), `nap events: ${nap.join(',')}`);
  assert.equal(events.find((e) => e.type === 'STEP_CANCELED')?.error ?? null, null);
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
    const types = run.events.filter((e) => e.workerSeq !== null).map((e) => e.type);
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
    const handle = t.client.workflow.getHandle(runWorkflowId(id));
    await handle.result();
    assert.equal(await handle.query<string>('phase'), 'done');
    const desc = await handle.describe();
    assert.equal(desc.typedSearchAttributes.get(SA_RUN_ID), id);
    assert.equal(desc.typedSearchAttributes.get(SA_JOB), 'hello');
    assert.equal(stack.agent!.launcher.spawnCount(id), 1);
    // runWorkflowV4: one activity (superviseRun launches, supervises and completes the item) and
    // two workflow tasks; no local activity (V3's launchRunHere left a marker) and no launchRun.
    const kinds = ((await handle.fetchHistory()).events ?? []).map((e) => String(e.eventType));
    const count = (type: number) => kinds.filter((k) => k === String(type)).length;
    assert.equal(count(10), 1, `ActivityTaskScheduled once: ${kinds.join(',')}`);
    assert.equal(count(25), 0, `no MarkerRecorded: ${kinds.join(',')}`);
    assert.equal(count(7), 2, `WorkflowTaskCompleted twice: ${kinds.join(',')}`);
    await recordHistory(t.client, runWorkflowId(id), 'run-success');
  });

  test('in `all` mode the run workflow starts eagerly: its first task goes straight to this agent', async () => {
    const before = stack.agent!.eagerStarts();
    const id = await stack.launch('hello');
    assert.equal((await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'])).status, 'SUCCESS');
    assert.equal(stack.agent!.eagerStarts(), before + 1, 'the dev server started the launch eagerly');
  });

  test('in `all` mode the one activity task is superviseRun, which launches: no launchRun, no local activity', async () => {
    // The pre-launch check (the run's cursor) comes with the claim of the launch, before the run
    // workflow starts (launch-checks.ts): no runCursor request of its own, before or in its first task.
    const cp = stack.agent!.controlPlane;
    const asked: Array<{ runId: string; at: number }> = [];
    const runCursor = cp.runCursor.bind(cp);
    cp.runCursor = (agentId, runId) => {
      asked.push({ runId, at: Date.now() });
      return runCursor(agentId, runId);
    };
    let id: string;
    try {
      id = await stack.launch('hello');
      assert.equal((await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'])).status, 'SUCCESS');
    } finally {
      cp.runCursor = runCursor;
    }
    const handle = t.client.workflow.getHandle(runWorkflowId(id));
    await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    const { run } = await stack.gql<{ run: { launchedAt: number | null } }>(
      `query($id: ID!) { run(id: $id) { launchedAt } }`,
      { id },
    );
    const launchedAt = run.launchedAt;
    assert.ok(launchedAt, 'STARTING recorded');
    const before = asked.filter((a) => a.runId === id && a.at <= launchedAt);
    assert.deepEqual(before, [], 'no runCursor request before the launch was reported');
    const activities = events.flatMap((e) => {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return name ? [name] : [];
    });
    assert.deepEqual(activities, ['superviseRun'], 'no launchRun (nor completeWork) activity task');
    // runWorkflowV4: the first task only schedules superviseRun (V3 held it for launchRunHere).
    const markers = events.flatMap((e) => (e.markerRecordedEventAttributes ? [e.markerRecordedEventAttributes] : []));
    assert.deepEqual(
      markers.map((m) => m.markerName),
      [],
      'no local activity',
    );
    assert.equal(stack.agent!.launcher.spawnCount(id), 1);
  });

  test('in `all` mode the launch begins once the workflow is started eagerly, and superviseRun joins it (one launch, one report)', async () => {
    // Who calls the launcher tells the order: superviseRun runs in an
    // activity context; the poller, which begins the launch as soon as the workflow exists and
    // its first task is in this process, does not.
    const agent = stack.agent!;
    const { launcher, controlPlane: cp } = agent;
    const launches: Array<{ runId: string; inActivity: boolean }> = [];
    const reports: string[] = [];
    const launch = launcher.launch.bind(launcher);
    const report = cp.reportRunLaunchedWithEvents.bind(cp);
    launcher.launch = (spec) => {
      launches.push({ runId: spec.runId, inActivity: inActivityContext() });
      return launch(spec);
    };
    cp.reportRunLaunchedWithEvents = (agentId, runId, info, lines) => {
      reports.push(runId);
      return report(agentId, runId, info, lines);
    };
    const before = agent.launchesAhead();
    let id: string;
    try {
      id = await stack.launch('hello');
      assert.equal((await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'])).status, 'SUCCESS');
    } finally {
      launcher.launch = launch;
      cp.reportRunLaunchedWithEvents = report;
    }
    assert.deepEqual(
      launches.filter((l) => l.runId === id),
      [{ runId: id, inActivity: false }],
      'launched once, by the poller, not by superviseRun',
    );
    assert.deepEqual(
      reports.filter((r) => r === id),
      [id],
      'reported once',
    );
    const after = agent.launchesAhead();
    assert.deepEqual([after.begun - before.begun, after.joined - before.joined], [1, 1], 'begun ahead and joined');
    assert.equal(launcher.spawnCount(id), 1);
  });

  test('a warm launch stores RUN_START with its report (shipping by supervision is not on the dispatch path)', async () => {
    const agent = stack.agent!;
    const { launcher, controlPlane: cp } = agent;
    await until('a ready standby', () => launcher.standbys.counts().ready >= 1);
    const reports: Array<{ runId: string; lines: string; lastSeq: number; at: number }> = [];
    const report = cp.reportRunLaunchedWithEvents.bind(cp);
    cp.reportRunLaunchedWithEvents = async (agentId, runId, info, lines) => {
      const answer = await report(agentId, runId, info, lines);
      reports.push({ runId, lines, lastSeq: answer.lastSeq, at: Date.now() });
      return answer;
    };
    let id: string;
    try {
      id = await stack.launch('hello');
      assert.equal((await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'])).status, 'SUCCESS');
    } finally {
      cp.reportRunLaunchedWithEvents = report;
    }
    const mine = reports.filter((r) => r.runId === id);
    assert.equal(mine.length, 1, 'reported once');
    assert.match(mine[0]!.lines.split('\n')[0]!, /"type":"RUN_START"/, 'the report carried RUN_START');
    assert.ok(mine[0]!.lastSeq >= 1, `the report's answer stored it (lastSeq ${mine[0]!.lastSeq})`);
  });

  test('a launch begun ahead that fails for good is left to the first task, which launches itself; supervision waits for that one', async () => {
    const { launcher } = stack.agent!;
    const launch = launcher.launch.bind(launcher);
    const calls: boolean[] = [];
    launcher.launch = (spec) => {
      calls.push(inActivityContext());
      // The launch begun ahead (outside any activity) fails for good; the activity's succeeds.
      if (!inActivityContext()) return Promise.reject(new OutpostError('RUN_WORKER_SPAWN_FAILED', { detail: 'test' }));
      return launch(spec);
    };
    let id: string;
    try {
      id = await stack.launch('hello');
      const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
      assert.equal(run.status, 'SUCCESS');
    } finally {
      launcher.launch = launch;
    }
    assert.deepEqual(calls, [false, true], 'begun ahead, then launched by superviseRun');
    assert.equal(launcher.spawnCount(id), 1);
    const handle = t.client.workflow.getHandle(runWorkflowId(id));
    const result = (await handle.result()) as { status: string };
    assert.equal(result.status, 'SUCCESS');
  });

  test('the launch item is completed by the supervision that sees the run end (no completeWork activity, local or not)', async () => {
    // A run costs Temporal 2 workflow tasks and 1 activity task (superviseRun, which launches and
    // completes the item before it returns: runWorkflowV4).
    const id = await stack.launch('hello');
    assert.equal((await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'])).status, 'SUCCESS');
    const handle = t.client.workflow.getHandle(runWorkflowId(id));
    assert.deepEqual(await handle.result(), { status: 'SUCCESS' });
    const events = (await handle.fetchHistory()).events ?? [];
    const activities = events.flatMap((e) => {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return name ? [name] : [];
    });
    assert.deepEqual(activities, ['superviseRun'], 'only supervision is an activity task');
    assert.equal(events.filter((e) => e.workflowTaskCompletedEventAttributes).length, 2, 'two workflow tasks');
    // New runs take every patch without recording it: no patch markers, no TemporalChangeVersion upserts.
    const markers = events.flatMap((e) =>
      e.markerRecordedEventAttributes ? [e.markerRecordedEventAttributes.markerName] : [],
    );
    // None: the launch is superviseRun's, and so is the item's completion (runWorkflowV4).
    assert.deepEqual(markers, [], 'no marker');
    assert.equal(
      events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes).length,
      0,
      'no search-attribute upserts',
    );
    const items = await stack.cp.store.db
      .selectFrom('work_items')
      .select(['status', 'result'])
      .where('kind', '=', 'LAUNCH_RUN')
      .where('run_id', '=', id)
      .execute();
    assert.deepEqual(items, [{ status: 'COMPLETED', result: JSON.stringify({ status: 'SUCCESS' }) }]);
  });

  test("a first workflow task run on another agent than the run's host schedules superviseRun (the launch) on the host queue", async () => {
    // Started directly (no control-plane run): the workflow names a host queue no worker serves,
    // so this agent's worker runs its first task, and the launch (superviseRun's) waits on that
    // host's queue, as it would for a dead host.
    const runId = `elsewhere-${Date.now()}`;
    const otherHost = `outpost-host-nobody-${Date.now()}`;
    const handle = await t.client.workflow.start(WORKFLOW_TYPES.LAUNCH_RUN, {
      workflowId: runWorkflowId(runId),
      taskQueue: stack.taskQueue,
      args: [
        {
          workItemId: 'none',
          payload: { runId, location: 'hello', job: 'hello', runConfig: {}, tags: {} },
          hostTaskQueue: otherHost,
        },
      ],
    });
    try {
      const scheduled = await until(
        'superviseRun scheduled on the host queue',
        async () => {
          const events = (await handle.fetchHistory()).events ?? [];
          const launch = events.find(
            (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'superviseRun',
          );
          return launch?.activityTaskScheduledEventAttributes ?? undefined;
        },
        30_000,
        50,
      );
      assert.equal(scheduled.taskQueue?.name, otherHost);
      assert.equal(stack.agent!.launcher.spawnCount(runId), 0, 'nothing launched here');
    } finally {
      await handle.terminate('test over');
    }
  });

  test('fail: FAILURE with the error and its stack', async () => {
    const id = await stack.launch('fail');
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(run.status, 'FAILURE');
    const stepFailure = run.events.find((e) => e.type === 'STEP_FAILURE');
    assert.match(stepFailure?.error?.message ?? '', /this op always fails/);
    assert.match(stepFailure?.error?.stack ?? '', /definitions\.ts/);
    assert.equal(run.events.filter((e) => e.workerSeq !== null).at(-1)?.type, 'RUN_FAILURE');
    assertContiguous(run.events);
  });

  test('terminate a running sleepy: CANCELED, and nothing of its process group survives', async () => {
    const id = await stack.launch('sleepy', { seconds: 300 });
    await stack.waitRun(id, ['STARTED']);
    const handle = t.client.workflow.getHandle(runWorkflowId(id));
    assert.equal(await handle.query<string>('phase'), 'running');
    const launcher = stack.agent!.launcher;
    assert.ok(launcher.groupMembers(id).length >= 1, 'the worker runs');
    const t0 = Date.now();
    await stack.gql(`mutation($id: ID!) { terminateRun(id: $id) { status } }`, { id });
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(run.status, 'CANCELED');
    assertPrompt(Date.now() - t0);
    // CANCELED is stored when the worker's RUN_CANCELED arrives, which it writes just before it
    // exits; supervision ends once the process group is gone, so look at the group after that.
    assert.deepEqual(await handle.result(), { status: 'CANCELED' });
    assert.deepEqual(launcher.groupMembers(id), []);
    const own = run.events.filter((e) => e.workerSeq !== null);
    assert.equal(own.filter((e) => e.type === 'RUN_CANCELED').length, 1);
    assertStepCanceled(run.events);
    assertContiguous(run.events);
    assert.equal(await handle.query<string>('phase'), 'done');
    assert.equal(launcher.spawnCount(id), 1);
    await recordHistory(t.client, runWorkflowId(id), 'run-terminated');
    // The TERMINATE_RUN workflow completed its item; terminating again is refused, harmlessly.
    await assert.rejects(
      stack.gql(`mutation($id: ID!) { terminateRun(id: $id) { status } }`, { id }),
      /RUN_NOT_TERMINABLE/,
    );
  });

  test('the public terminate signal (as sent from the Temporal UI or CLI) stops a run the same way', async () => {
    const id = await stack.launch('sleepy', { seconds: 300 });
    await stack.waitRun(id, ['STARTED']);
    const t0 = Date.now();
    const handle = t.client.workflow.getHandle(runWorkflowId(id));
    await handle.signal('terminate');
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(run.status, 'CANCELED');
    assertPrompt(Date.now() - t0);
    assertStepCanceled(run.events);
    assertContiguous(run.events);
    assert.deepEqual(await handle.result(), { status: 'CANCELED' });
    assert.deepEqual(stack.agent!.launcher.groupMembers(id), []);
  });
});
