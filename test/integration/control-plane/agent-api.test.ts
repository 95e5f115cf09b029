// The agent API end to end through the fetch handler, on SQLite and PostgreSQL: register,
// sync a location, claim/ack a launch, report it, ship events and logs, read the cursor; and
// ownership: only agents of the token whose agent claimed an item may finish it, and only the
// agent holding a launch may report its run launched (and then write it).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getRun } from '../../../src/control-plane/store/runs.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { createToken } from '../../../src/control-plane/store/tokens.js';
import { getWorkItem } from '../../../src/control-plane/store/work-items.js';
import { describeEachDialect } from '../../support/storage.js';
import { loadedLocation, openHarness, type Harness } from '../../support/control-plane-harness.js';
import { runWorkflowId } from '../../../src/shared/workflow-contract.js';

describeEachDialect('agent API', (target) => {
  let h: Harness;
  before(async () => {
    h = await openHarness(await target.freshUrl());
  });
  after(() => h.close());

  test('a run from launch to SUCCESS, with idempotent events and logs', async () => {
    // The deploy enqueued a SYNC_CODE_LOCATION, which this agent claimed before reporting.
    const agentId = await loadedLocation(h);
    const sync = await h.store.db.selectFrom('work_items').select(['kind', 'lease_owner', 'status']).execute();
    assert.deepEqual(sync, [{ kind: 'SYNC_CODE_LOCATION', lease_owner: agentId, status: 'ACKED' }]);

    const launched = await h.gql<{ launchRun: { id: string; status: string } }>(
      'user',
      `mutation { launchRun(input: { location: "hello", job: "hello", tags: { team: "a" } }) { id status } }`,
    );
    assert.equal(launched.data?.launchRun.status, 'QUEUED');
    const runId = launched.data.launchRun.id;

    const claimed = await h.gql<{
      claimWork: { id: string; kind: string; runId: string; status: string; attempts: number }[];
    }>(
      'agent',
      `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 50) { id kind runId status attempts leaseExpiresAt } }`,
      { a: agentId },
    );
    const item = claimed.data!.claimWork[0]!;
    assert.equal(item.kind, 'LAUNCH_RUN');
    assert.equal(item.runId, runId);
    assert.equal(item.status, 'CLAIMED');
    assert.equal(item.attempts, 1);

    for (let i = 0; i < 2; i++) {
      const ack = await h.gql<{ ackWork: { status: string } }>(
        'agent',
        `mutation($a: ID!, $id: ID!, $w: String!) { ackWork(agentId: $a, id: $id, workflowId: $w) { status } }`,
        { a: agentId, id: item.id, w: runWorkflowId(runId) },
      );
      assert.equal(ack.data?.ackWork.status, 'ACKED');
      const rl = await h.gql<{ reportRunLaunched: string }>(
        'agent',
        `mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r, info: { pid: 42 }) }`,
        { a: agentId, r: runId },
      );
      assert.equal(rl.data?.reportRunLaunched, 'STARTING');
    }

    const append = (events: unknown[]) =>
      h.gql<{ appendRunEvents: { highestContiguousSeq: number; status: string } }>(
        'agent',
        `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { highestContiguousSeq status } }`,
        { a: agentId, r: runId, e: events },
      );
    const ev = (seq: number, type: string) => ({ seq, type, timestamp: 1000 + seq, message: `e${seq}` });
    assert.deepEqual((await append([ev(1, 'RUN_START'), ev(2, 'LOG')])).data?.appendRunEvents, {
      highestContiguousSeq: 2,
      status: 'STARTED',
    });
    // A gap: 4 stored, contiguous stays 2; then 3 fills it. Duplicates are ignored.
    assert.equal((await append([ev(4, 'LOG')])).data?.appendRunEvents.highestContiguousSeq, 2);
    assert.deepEqual(
      (await append([ev(2, 'LOG'), ev(3, 'LOG'), ev(4, 'LOG'), ev(5, 'RUN_SUCCESS')])).data?.appendRunEvents,
      {
        highestContiguousSeq: 5,
        status: 'SUCCESS',
      },
    );
    assert.equal((await append([ev(5, 'RUN_SUCCESS')])).data?.appendRunEvents.highestContiguousSeq, 5);

    const logs = (offset: number, text: string) =>
      h.gql<{ appendComputeLogs: { storedBytes: number; truncated: boolean } }>(
        'agent',
        `mutation($a: ID!, $r: ID!, $o: Float!, $d: String!) { appendComputeLogs(agentId: $a, runId: $r, stream: STDOUT, offset: $o, data: $d) { storedBytes truncated } }`,
        { a: agentId, r: runId, o: offset, d: Buffer.from(text).toString('base64') },
      );
    assert.equal((await logs(0, 'hello ')).data?.appendComputeLogs.storedBytes, 6);
    assert.equal((await logs(0, 'hello ')).data?.appendComputeLogs.storedBytes, 6);
    assert.equal((await logs(0, 'hello from outpost\n')).data?.appendComputeLogs.storedBytes, 19);

    const cursor = await h.gql<{ runCursor: Record<string, unknown> }>(
      'agent',
      `query($a: ID!, $r: ID!) { runCursor(agentId: $a, runId: $r) { runId lastSeq stdoutBytes stderrBytes status } }`,
      { a: agentId, r: runId },
    );
    assert.deepEqual(cursor.data?.runCursor, { runId, lastSeq: 5, stdoutBytes: 19, stderrBytes: 0, status: 'SUCCESS' });

    const done = await h.gql<{ completeWork: { status: string } }>(
      'agent',
      `mutation($a: ID!, $id: ID!) { completeWork(agentId: $a, id: $id, result: { status: "SUCCESS" }) { status } }`,
      { a: agentId, id: item.id },
    );
    assert.equal(done.data?.completeWork.status, 'COMPLETED');

    const run = await h.gql<{
      run: {
        status: string;
        events: { seq: number; workerSeq: number | null; type: string }[];
        computeLogs: { data: string };
      };
    }>(
      'user',
      `query($r: ID!) { run(id: $r) { status events { seq workerSeq type } computeLogs(stream: STDOUT) { data nextOffset truncated } } }`,
      { r: runId },
    );
    assert.equal(run.data?.run.status, 'SUCCESS');
    // One sequence: the ENGINE "launched" event and the worker's five, numbered 1..6 in order.
    const events = run.data.run.events;
    assert.deepEqual(
      events.map((e) => e.seq),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      events.filter((e) => e.workerSeq !== null).map((e) => e.workerSeq),
      [1, 2, 3, 4, 5],
    );
    assert.equal(run.data.run.computeLogs.data, 'hello from outpost\n');
  });

  test('workspace lists deployed locations with their spec and version', async () => {
    const reg = await h.gql<{ registerAgent: { agentId: string } }>(
      'agent',
      `mutation { registerAgent(input: { name: "a2", hostname: "h", version: "0", taskQueue: "q2" }) { agentId } }`,
    );
    const ws = await h.gql<{ workspace: { name: string; version: number; spec: { module: string } }[] }>(
      'agent',
      `query($a: ID!) { workspace(agentId: $a) { name version spec } }`,
      { a: reg.data!.registerAgent.agentId },
    );
    assert.deepEqual(
      ws.data?.workspace.map((l) => [l.name, l.version, l.spec.module]),
      [['hello', 1, 'examples/hello/definitions.ts']],
    );
  });
  test("another token's agent cannot ack, finish or report a claimed launch; the claimer's token can", async () => {
    const tokenB = (await createToken(h.store, 'agent', 'deployment-b')).token;
    const register = async (name: string, token: string, agentId?: string) => {
      const r = await h.gql<{ registerAgent: { agentId: string } }>(
        'agent',
        `mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agentId } }`,
        { i: { ...(agentId ? { agentId } : {}), name, hostname: 'h', version: '0', taskQueue: 'q' } },
        token,
      );
      return r;
    };
    const a = (await register('own-a', h.agentToken)).data!.registerAgent.agentId;
    const a2 = (await register('own-a2', h.agentToken)).data!.registerAgent.agentId;
    const b = (await register('own-b', tokenB)).data!.registerAgent.agentId;
    const hijack = await register('evil', tokenB, a);
    assert.equal(hijack.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_AGENT_ID_TAKEN', "B cannot re-register A's id");

    const runs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { run } = await h.store.transaction((trx) =>
        createRun(trx, h.store, { location: 'hello', job: 'hello', runConfig: {}, tags: {} }),
      );
      runs.push(run.id);
    }
    const call = (token: string, query: string, v: Record<string, unknown>) => h.gql('agent', query, v, token);
    const complete = `mutation($a: ID!, $i: ID!) { completeWork(agentId: $a, id: $i, result: { status: "FAILURE" }) { id status } }`;
    const fail = `mutation($a: ID!, $i: ID!) { failWork(agentId: $a, id: $i, error: { code: "X", message: "m" }) { id status } }`;
    const launched = `mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r) }`;
    const ack = `mutation($a: ID!, $i: ID!) { ackWork(agentId: $a, id: $i, workflowId: "wf") { id status } }`;
    const codeOf = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;

    // Before any claim: nobody may finish the launch or report its run launched.
    const [queued] = await h.store.db
      .selectFrom('work_items')
      .select('id')
      .where('run_id', '=', runs[0]!)
      .where('kind', '=', 'LAUNCH_RUN')
      .execute();
    assert.equal(codeOf(await call(h.agentToken, complete, { a, i: queued!.id })), 'OUTPOST_ERR_WORK_ITEM_NOT_OWNED');
    assert.equal(codeOf(await call(h.agentToken, fail, { a, i: queued!.id })), 'OUTPOST_ERR_WORK_ITEM_NOT_OWNED');
    assert.equal(codeOf(await call(h.agentToken, launched, { a, r: runs[0] })), 'OUTPOST_ERR_RUN_NOT_OWNED');
    assert.equal((await getWorkItem(h.store.db, queued!.id))?.status, 'QUEUED');
    assert.equal((await getRun(h.store.db, runs[0]!))?.status, 'QUEUED');

    const claimed = await call(
      h.agentToken,
      `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { id runId } }`,
      {
        a,
      },
    );
    const items = (claimed.data as { claimWork: { id: string; runId: string | null }[] }).claimWork.filter((w) =>
      runs.includes(w.runId ?? ''),
    );
    assert.equal(items.length, 2);
    const state = async () =>
      JSON.stringify([
        await Promise.all(items.map((i) => getWorkItem(h.store.db, i.id))),
        await Promise.all(runs.map((r) => getRun(h.store.db, r))),
      ]);
    const before = await state();
    for (const item of items) {
      for (const [q, v] of [
        [ack, { a: b, i: item.id }],
        [complete, { a: b, i: item.id }],
        [fail, { a: b, i: item.id }],
        [launched, { a: b, r: item.runId }],
        [complete, { a, i: item.id }],
        [launched, { a, r: item.runId }],
      ] as const) {
        const r = await call(tokenB, q, v);
        const code = codeOf(r);
        assert.ok(
          code === 'OUTPOST_ERR_FORBIDDEN' ||
            (q === ack && code === 'OUTPOST_ERR_WORK_ITEM_NOT_OWNED') ||
            (q === launched && v.a === b && code === 'OUTPOST_ERR_RUN_NOT_OWNED'),
          `${q.slice(9, 30)} as B: ${JSON.stringify(r)}`,
        );
      }
    }
    assert.equal(await state(), before, 'nothing changed');

    // Another agent of A's token may launch it (split mode: the poller claims, a worker agent
    // launches); from then on only that agent writes the run, not even the claimer.
    const [one, two] = items as [{ id: string; runId: string }, { id: string; runId: string }];
    for (let i = 0; i < 2; i++) {
      assert.equal((await call(h.agentToken, launched, { a: a2, r: one.runId })).data?.reportRunLaunched, 'STARTING');
    }
    assert.equal(codeOf(await call(h.agentToken, launched, { a, r: one.runId })), 'OUTPOST_ERR_RUN_NOT_OWNED');
    assert.equal(codeOf(await call(tokenB, launched, { a: b, r: one.runId })), 'OUTPOST_ERR_RUN_NOT_OWNED');
    const done = await call(h.agentToken, complete, { a: a2, i: one.id });
    assert.deepEqual(done.data, { completeWork: { id: one.id, status: 'COMPLETED' } });
    assert.equal((await getRun(h.store.db, one.runId))?.status, 'FAILURE');
    const failed = await call(h.agentToken, fail, { a, i: two.id });
    assert.deepEqual(failed.data, { failWork: { id: two.id, status: 'FAILED' } });
    // Finished: idempotent for the owner's token, still refused for B.
    assert.deepEqual((await call(h.agentToken, fail, { a, i: one.id })).data, {
      failWork: { id: one.id, status: 'COMPLETED' },
    });
    assert.equal(codeOf(await call(tokenB, complete, { a: b, i: two.id })), 'OUTPOST_ERR_FORBIDDEN');
  });

  test("claimWork answers a launch's run cursor when asked (the pre-launch check without a runCursor request)", async () => {
    const agentId = await loadedLocation(h);
    const launched = await h.gql<{ launchRun: { id: string } }>(
      'user',
      `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`,
    );
    const runId = launched.data!.launchRun.id;
    const claimed = await h.gql<{
      claimWork: { kind: string; runId: string; runCursor: Record<string, unknown> | null }[];
    }>(
      'agent',
      `mutation($a: ID!, $c: Boolean = false) { claimWork(agentId: $a, limit: 10, waitMs: 50) { kind runId runCursor @include(if: $c) { runId lastSeq stdoutBytes stderrBytes status } } }`,
      { a: agentId, c: true },
    );
    assert.deepEqual(claimed.errors, undefined);
    const item = claimed.data!.claimWork.find((w) => w.runId === runId)!;
    assert.equal(item.kind, 'LAUNCH_RUN');
    assert.deepEqual(item.runCursor, { runId, lastSeq: 0, stdoutBytes: 0, stderrBytes: 0, status: 'QUEUED' });
    // A run stopped before its launch is claimed shows it: the launch is skipped on that answer.
    await h.gql('user', `mutation($r: ID!) { terminateRun(id: $r) { id } }`, { r: runId });
    const terminate = await h.gql<{ claimWork: { kind: string; runCursor: unknown }[] }>(
      'agent',
      `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 50) { kind runCursor { status } } }`,
      { a: agentId },
    );
    assert.deepEqual(
      terminate.data!.claimWork.map((w) => [w.kind, w.runCursor]),
      [['TERMINATE_RUN', null]],
      'only a LAUNCH_RUN item carries its cursor',
    );
  });

  test("reportRunLaunchedWithEvents: the launch and the worker's first events in one call, answering the cursor", async () => {
    const agentId = await loadedLocation(h);
    const launched = await h.gql<{ launchRun: { id: string } }>(
      'user',
      `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`,
    );
    const runId = launched.data!.launchRun.id;
    await h.gql('agent', `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 50) { id } }`, { a: agentId });
    const report = (lines: string) =>
      h.gql<{ reportRunLaunchedWithEvents: Record<string, unknown> }>(
        'agent',
        `mutation($a: ID!, $r: ID!, $l: String) { reportRunLaunchedWithEvents(agentId: $a, runId: $r, info: { pid: 7 }, lines: $l) { runId lastSeq stdoutBytes stderrBytes status } }`,
        { a: agentId, r: runId, l: lines },
      );
    const line = (seq: number, type: string) =>
      JSON.stringify({ seq, type, timestamp: 2000 + seq, message: `w${seq}` });
    // A bad line refuses the whole call: nothing reported, nothing stored.
    const bad = await report(`${line(1, 'RUN_START')}\nnot json`);
    assert.match(JSON.stringify(bad.errors), /OUTPOST_ERR_INVALID_ARGUMENT/);
    assert.equal((await getRun(h.store.db, runId))?.status, 'QUEUED');
    const lines = [line(1, 'RUN_START'), line(2, 'LOG')].join('\n');
    assert.deepEqual((await report(lines)).data?.reportRunLaunchedWithEvents, {
      runId,
      lastSeq: 2,
      stdoutBytes: 0,
      stderrBytes: 0,
      status: 'STARTED',
    });
    // A retry (same lines, or none) changes nothing and answers the same cursor.
    assert.equal((await report(lines)).data?.reportRunLaunchedWithEvents.lastSeq, 2);
    assert.equal((await report('')).data?.reportRunLaunchedWithEvents.status, 'STARTED');
    const run = await h.gql<{
      run: { launchedAt: number | null; events: { workerSeq: number | null; type: string }[] };
    }>('user', `query($r: ID!) { run(id: $r) { launchedAt events { workerSeq type } } }`, { r: runId });
    assert.ok(run.data?.run.launchedAt, 'STARTING was recorded (launchedAt) before RUN_START');
    assert.deepEqual(
      run.data.run.events.map((e) => [e.type, e.workerSeq]),
      [
        ['ENGINE', null],
        ['RUN_START', 1],
        ['LOG', 2],
      ],
    );
  });
});
