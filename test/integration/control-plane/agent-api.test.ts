// The agent API end to end through the fetch handler, on SQLite and PostgreSQL: register,
// sync a location, claim/ack a launch, report it, ship events and logs, read the cursor.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeEachDialect } from '../../support/storage.js';
import { loadedLocation, openHarness, type Harness } from './harness.js';

describeEachDialect('agent API', (target) => {
  let h: Harness;
  before(async () => {
    h = await openHarness(await target.freshUrl());
  });
  after(() => h.close());

  test('a run from launch to SUCCESS, with idempotent events and logs', async () => {
    const agentId = await loadedLocation(h);
    // The deploy enqueued a SYNC_CODE_LOCATION; claim it first.
    const sync = await h.gql<{ claimWork: { id: string; kind: string; payload: { version: number } }[] }>(
      'agent',
      `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { id kind payload status attempts } }`,
      { a: agentId },
    );
    assert.deepEqual(
      sync.data?.claimWork.map((w) => w.kind),
      ['SYNC_CODE_LOCATION'],
    );

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
        `mutation($a: ID!, $id: ID!) { ackWork(agentId: $a, id: $id, workflowId: "run-x") { status } }`,
        { a: agentId, id: item.id },
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
        `mutation($r: ID!, $e: [RunEventInput!]!) { appendRunEvents(runId: $r, events: $e) { highestContiguousSeq status } }`,
        { r: runId, e: events },
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
        `mutation($r: ID!, $o: Float!, $d: String!) { appendComputeLogs(runId: $r, stream: stdout, offset: $o, data: $d) { storedBytes truncated } }`,
        { r: runId, o: offset, d: Buffer.from(text).toString('base64') },
      );
    assert.equal((await logs(0, 'hello ')).data?.appendComputeLogs.storedBytes, 6);
    assert.equal((await logs(0, 'hello ')).data?.appendComputeLogs.storedBytes, 6);
    assert.equal((await logs(0, 'hello from outpost\n')).data?.appendComputeLogs.storedBytes, 19);

    const cursor = await h.gql<{ runCursor: Record<string, unknown> }>(
      'agent',
      `query($r: ID!) { runCursor(runId: $r) { runId lastSeq stdoutBytes stderrBytes status } }`,
      { r: runId },
    );
    assert.deepEqual(cursor.data?.runCursor, { runId, lastSeq: 5, stdoutBytes: 19, stderrBytes: 0, status: 'SUCCESS' });

    const done = await h.gql<{ completeWork: { status: string } }>(
      'agent',
      `mutation($a: ID!, $id: ID!) { completeWork(agentId: $a, id: $id, result: { status: "SUCCESS" }) { status } }`,
      { a: agentId, id: item.id },
    );
    assert.equal(done.data?.completeWork.status, 'COMPLETED');

    const run = await h.gql<{
      run: { status: string; events: { seq: number; type: string }[]; computeLogs: { data: string } };
    }>(
      'user',
      `query($r: ID!) { run(id: $r) { status events { seq type } computeLogs(stream: stdout) { data nextOffset truncated } } }`,
      { r: runId },
    );
    assert.equal(run.data?.run.status, 'SUCCESS');
    assert.deepEqual(
      run.data.run.events.filter((e) => e.seq < 1e9).map((e) => e.seq),
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
});
