// Attack suite, issue 13 item 2: "any agent token writes any run". A real control plane on a
// socket (SQLite and PostgreSQL), two agent tokens: agent A (token A) legitimately syncs `hello`
// and runs a launch; agent B (token B) tries each write that was seen to succeed. Every attempt
// must be refused with its code and leave every table exactly as it was.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';
import {
  answerOf,
  b64,
  ev,
  launchedRun,
  ok,
  registerAgent,
  syncHello,
  tableRows,
  type Answer,
  type Vars,
} from '../../support/agent-attack.js';
import { SNAPSHOT } from '../../support/control-plane-harness.js';
import { runWorkflowId, workItemWorkflowId } from '../../../src/shared/workflow-contract.js';

const logger = createLogger({ name: 'attack', level: 'silent' });
const codeOf = (r: Answer<unknown>): string | undefined => r.errors?.[0]?.extensions?.code;

const Q = {
  register: `mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agentId } }`,
  claim: `mutation($a: ID!, $acks: [WorkAckInput!]) { claimWork(agentId: $a, limit: 10, waitMs: 0, acks: $acks) { id kind runId payload } }`,
  ack: `mutation($a: ID!, $i: ID!, $w: String!) { ackWork(agentId: $a, id: $i, workflowId: $w) { id status } }`,
  report: `mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }`,
  launched: `mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r, info: { pid: 1 }) }`,
  append: `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { highestContiguousSeq status } }`,
  lines: `mutation($a: ID!, $r: ID!, $l: String!) { appendRunEventLines(agentId: $a, runId: $r, lines: $l) { highestContiguousSeq status } }`,
  logs: `mutation($a: ID!, $r: ID!, $s: ComputeLogStream!, $o: Float!, $d: String!) { appendComputeLogs(agentId: $a, runId: $r, stream: $s, offset: $o, data: $d) { storedBytes } }`,
  cursor: `query($a: ID!, $r: ID!) { runCursor(agentId: $a, runId: $r) { lastSeq status } }`,
  cursors: `query($a: ID!, $r: [ID!]!) { runCursors(agentId: $a, runIds: $r) { lastSeq status } }`,
  deploy: `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
  launch: `mutation { launchRun(input: { location: "hello", job: "hello" }) { id status } }`,
  terminate: `mutation($r: ID!) { terminateRun(id: $r) { status } }`,
};

interface WorkItem {
  id: string;
  kind: string;
  runId: string | null;
  payload: { version?: number };
}

describeEachDialect('attack: one agent token writes another agent’s work', (target) => {
  let dir: string;
  let cp: ControlPlane;
  const tok = { user: '', a: '', b: '' };
  const agent = { a: '', b: '' };
  let runId = '';
  let launchItem = '';
  let version = 0;

  const asA = <T = Record<string, unknown>>(q: string, v: Vars = {}) => answerOf<T>(cp, '/agent/graphql', tok.a, q, v);
  const asB = <T = Record<string, unknown>>(q: string, v: Vars = {}) => answerOf<T>(cp, '/agent/graphql', tok.b, q, v);
  const asUser = <T = Record<string, unknown>>(q: string, v: Vars = {}) => answerOf<T>(cp, '/graphql', tok.user, q, v);
  const rows = () => tableRows(cp);

  /** Runs B's attempt, asserts its code, and that no row of any table changed. */
  async function refused(what: string, attempt: () => Promise<Answer<unknown>>, code: string): Promise<void> {
    const before = await rows();
    const r = await attempt();
    assert.equal(codeOf(r), code, `${what}: ${JSON.stringify(r)}`);
    assert.ok(r.errors?.[0]?.extensions?.hint, `${what}: the refusal carries a hint`);
    assert.equal(await rows(), before, `${what}: no row changed`);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-attack-'));
    cp = await startControlPlane({ databaseUrl: await target.freshUrl(), port: 0, logger, daemon: false, web: false });
    tok.user = await cp.issueToken('user', 'admin');
    tok.a = await cp.issueToken('agent', 'deployment-a');
    tok.b = await cp.issueToken('agent', 'deployment-b');
    agent.a = await registerAgent(cp, tok.a, 'a');
    agent.b = await registerAgent(cp, tok.b, 'b');
    // A is asked to sync `hello` (it claims the SYNC item) and reports it LOADED.
    ({ version } = await syncHello(cp, tok.user, { token: tok.a, agent: agent.a }));
    // A claims a launch, acks it, reports it launched and ships the worker's first events and stdout.
    ({ runId, itemId: launchItem } = await launchedRun(
      cp,
      tok.user,
      { token: tok.a, agent: agent.a },
      'hello from outpost\n',
    ));
  });
  after(async () => {
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("B appends RUN_SUCCESS to A's live run: refused; the run stays STARTED and can still be terminated", async () => {
    await refused(
      'appendRunEvents RUN_SUCCESS',
      () => asB(Q.append, { a: agent.b, r: runId, e: [ev(3, 'RUN_SUCCESS', 'forged')] }),
      'OUTPOST_ERR_RUN_NOT_OWNED',
    );
    // B naming A's agent id fails at the token binding instead.
    await refused(
      "appendRunEvents as A's agent id",
      () => asB(Q.append, { a: agent.a, r: runId, e: [ev(3, 'RUN_SUCCESS', 'forged')] }),
      'OUTPOST_ERR_FORBIDDEN',
    );
    // The NDJSON form of the same call is held to the same checks.
    const forged = JSON.stringify(ev(3, 'RUN_SUCCESS', 'forged'));
    await refused(
      'appendRunEventLines RUN_SUCCESS',
      () => asB(Q.lines, { a: agent.b, r: runId, l: forged }),
      'OUTPOST_ERR_RUN_NOT_OWNED',
    );
    await refused(
      "appendRunEventLines as A's agent id",
      () => asB(Q.lines, { a: agent.a, r: runId, l: forged }),
      'OUTPOST_ERR_FORBIDDEN',
    );
    // And so is the raw NDJSON endpoint.
    const rawEvents = async (a: string): Promise<Answer<unknown>> => {
      const res = await fetch(`${cp.url}/agent/events?${new URLSearchParams({ agentId: a, runId })}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${tok.b}` },
        body: forged,
      });
      return (await res.json()) as Answer<unknown>;
    };
    await refused('POST /agent/events RUN_SUCCESS', () => rawEvents(agent.b), 'OUTPOST_ERR_RUN_NOT_OWNED');
    await refused("POST /agent/events as A's agent id", () => rawEvents(agent.a), 'OUTPOST_ERR_FORBIDDEN');
    const cursor = ok(await asA<{ runCursor: { status: string } }>(Q.cursor, { a: agent.a, r: runId }));
    assert.equal(cursor.runCursor.status, 'STARTED');
  });

  test("B's event at the next seq cannot displace the worker's: refused, and A's real event lands", async () => {
    await refused(
      'appendRunEvents LOG at the next seq',
      () => asB(Q.append, { a: agent.b, r: runId, e: [ev(3, 'LOG', 'forged')] }),
      'OUTPOST_ERR_RUN_NOT_OWNED',
    );
    const mine = ok(await asA(Q.append, { a: agent.a, r: runId, e: [ev(3, 'LOG')] }));
    assert.deepEqual(mine.appendRunEvents, { highestContiguousSeq: 3, status: 'STARTED' });
    const stored = await cp.store.db
      .selectFrom('run_events')
      .select('message')
      .where('run_id', '=', runId)
      .where('worker_seq', '=', 3)
      .executeTakeFirst();
    assert.equal(stored?.message, 'worker event 3');
  });

  test('even the holder cannot rewrite a stored event or end the run twice; identical re-sends stay idempotent', async () => {
    await refused(
      'a different event at a stored seq',
      () => asA(Q.append, { a: agent.a, r: runId, e: [ev(4, 'LOG'), ev(2, 'LOG', 'rewritten')] }),
      'OUTPOST_ERR_RUN_EVENT_CONFLICT',
    );
    const resent = ok(await asA(Q.append, { a: agent.a, r: runId, e: [ev(1, 'RUN_START'), ev(2, 'LOG')] }));
    assert.deepEqual(resent.appendRunEvents, { highestContiguousSeq: 3, status: 'STARTED' });
    // A second run ends SUCCESS; a later RUN_FAILURE at another seq is refused, the same one is not.
    const other = await launchedByA();
    ok(await asA(Q.append, { a: agent.a, r: other, e: [ev(1, 'RUN_START'), ev(2, 'RUN_SUCCESS')] }));
    await refused(
      'a second terminal event',
      () => asA(Q.append, { a: agent.a, r: other, e: [ev(3, 'RUN_FAILURE')] }),
      'OUTPOST_ERR_RUN_EVENT_CONFLICT',
    );
    const again = ok(await asA(Q.append, { a: agent.a, r: other, e: [ev(2, 'RUN_SUCCESS')] }));
    assert.deepEqual(again.appendRunEvents, { highestContiguousSeq: 2, status: 'SUCCESS' });
  });

  test("B's bytes cannot become the run's stdout or stderr", async () => {
    await refused(
      'appendComputeLogs stdout',
      () => asB(Q.logs, { a: agent.b, r: runId, s: 'STDOUT', o: 19, d: b64('forged\n') }),
      'OUTPOST_ERR_RUN_NOT_OWNED',
    );
    await refused(
      'appendComputeLogs stderr at offset 0',
      () => asB(Q.logs, { a: agent.b, r: runId, s: 'STDERR', o: 0, d: b64('forged\n') }),
      'OUTPOST_ERR_RUN_NOT_OWNED',
    );
    // The raw-bytes endpoint applies the same checks.
    const raw = async (token: string, a: string, stream: string, offset: number): Promise<Answer<unknown>> => {
      const q = new URLSearchParams({ agentId: a, runId, stream, offset: String(offset) });
      const res = await fetch(`${cp.url}/agent/logs?${q}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` },
        body: 'forged\n',
      });
      return (await res.json()) as Answer<unknown>;
    };
    await refused('POST /agent/logs stdout', () => raw(tok.b, agent.b, 'stdout', 19), 'OUTPOST_ERR_RUN_NOT_OWNED');
    await refused('POST /agent/logs stderr', () => raw(tok.b, agent.b, 'stderr', 0), 'OUTPOST_ERR_RUN_NOT_OWNED');
    await refused("POST /agent/logs as A's id", () => raw(tok.b, agent.a, 'stdout', 19), 'OUTPOST_ERR_FORBIDDEN');
  });

  test("B cannot read A's run cursor or report A's run launched", async () => {
    await refused('runCursor', () => asB(Q.cursor, { a: agent.b, r: runId }), 'OUTPOST_ERR_RUN_NOT_OWNED');
    await refused('runCursors', () => asB(Q.cursors, { a: agent.b, r: [runId] }), 'OUTPOST_ERR_RUN_NOT_OWNED');
    await refused('reportRunLaunched', () => asB(Q.launched, { a: agent.b, r: runId }), 'OUTPOST_ERR_RUN_NOT_OWNED');
  });

  test('B cannot mark `hello` ERROR: refused, the location stays LOADED and launches keep working', async () => {
    const forged = { agentId: agent.b, location: 'hello', version, status: 'ERROR', error: 'forged' };
    await refused('reportCodeLocation ERROR', () => asB(Q.report, { i: forged }), 'OUTPOST_ERR_LOCATION_NOT_OWNED');
    await refused(
      'reportCodeLocation for a version never deployed',
      () => asB(Q.report, { i: { ...forged, version: version + 1 } }),
      'OUTPOST_ERR_LOCATION_NOT_OWNED',
    );
    const launched = ok(await asUser<{ launchRun: { status: string } }>(Q.launch));
    assert.equal(launched.launchRun.status, 'QUEUED');
    // Leave nothing queued for the cases after this one.
    await claimAllAsA();
  });

  test("B's ackWork of A's items is refused, and acks riding on B's claimWork change nothing", async () => {
    await refused(
      "ackWork of A's acked launch",
      () => asB(Q.ack, { a: agent.b, i: launchItem, w: runWorkflowId(runId) }),
      'OUTPOST_ERR_WORK_ITEM_NOT_OWNED',
    );
    const { runId: r2, itemId } = await claimedByA();
    await refused(
      "ackWork of A's claimed launch",
      () => asB(Q.ack, { a: agent.b, i: itemId, w: runWorkflowId(r2) }),
      'OUTPOST_ERR_WORK_ITEM_NOT_OWNED',
    );
    const before = await rows();
    const carried = ok(
      await asB<{ claimWork: WorkItem[] }>(Q.claim, {
        a: agent.b,
        acks: [{ id: itemId, workflowId: runWorkflowId(r2) }],
      }),
    );
    assert.deepEqual(carried.claimWork, []);
    assert.equal(await rows(), before, 'acks carried by claimWork: no row changed');
  });

  test('B claims a launch and acks it with a workflow id that never existed: refused; the derived id is accepted', async () => {
    const r3 = ok(await asUser<{ launchRun: { id: string } }>(Q.launch)).launchRun.id;
    const [item] = ok(await asB<{ claimWork: WorkItem[] }>(Q.claim, { a: agent.b })).claimWork;
    assert.equal(item?.runId, r3);
    for (const w of ['run-never-existed', workItemWorkflowId(item.id), runWorkflowId(runId)]) {
      await refused(
        `ackWork with ${w}`,
        () => asB(Q.ack, { a: agent.b, i: item.id, w }),
        'OUTPOST_ERR_INVALID_ARGUMENT',
      );
    }
    const before = await rows();
    ok(await asB(Q.claim, { a: agent.b, acks: [{ id: item.id, workflowId: 'run-never-existed' }] }));
    assert.equal(await rows(), before, 'a bogus workflow id riding on claimWork: no row changed');
    const acked = ok(
      await asB<{ ackWork: { status: string } }>(Q.ack, { a: agent.b, i: item.id, w: runWorkflowId(r3) }),
    );
    assert.equal(acked.ackWork.status, 'ACKED');
    // B holds this launch, so now A is the outsider.
    await refused(
      "A reports B's run launched",
      () => asA(Q.launched, { a: agent.a, r: r3 }),
      'OUTPOST_ERR_RUN_NOT_OWNED',
    );
    assert.equal(ok(await asB(Q.launched, { a: agent.b, r: r3 })).reportRunLaunched, 'STARTING');
  });

  test('after all attempts, terminateRun still stops the attacked run', async () => {
    const t = ok(await asUser<{ terminateRun: { status: string } }>(Q.terminate, { r: runId }));
    assert.equal(t.terminateRun.status, 'CANCELING');
  });

  /** A fresh run whose launch A claimed, acked and reported. */
  async function launchedByA(): Promise<string> {
    const { runId: id, itemId } = await claimedByA();
    ok(await asA(Q.ack, { a: agent.a, i: itemId, w: runWorkflowId(id) }));
    ok(await asA(Q.launched, { a: agent.a, r: id }));
    return id;
  }

  /** A fresh run whose launch A claimed (not acked). */
  async function claimedByA(): Promise<{ runId: string; itemId: string }> {
    const id = ok(await asUser<{ launchRun: { id: string } }>(Q.launch)).launchRun.id;
    const items = ok(await asA<{ claimWork: WorkItem[] }>(Q.claim, { a: agent.a })).claimWork;
    const item = items.find((i) => i.runId === id);
    assert.ok(item, 'A claimed the launch');
    return { runId: id, itemId: item.id };
  }

  async function claimAllAsA(): Promise<void> {
    ok(await asA(Q.claim, { a: agent.a }));
  }
});

describeEachDialect('agent scope: a launch re-claimed after its lease lapsed moves to the new holder', (target) => {
  test("B re-claims A's lapsed launch: B writes the run, A is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-reclaim-'));
    const cp = await startControlPlane({
      databaseUrl: await target.freshUrl(),
      port: 0,
      logger,
      daemon: false,
      web: false,
      storeLimits: { leaseMs: 300 },
    });
    try {
      const call = async (path: string, token: string, query: string, variables: Record<string, unknown> = {}) => {
        const res = await fetch(cp.url + path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query, variables }),
        });
        return (await res.json()) as Answer<Record<string, never>>;
      };
      const user = await cp.issueToken('user', 'u');
      const [ta, tb] = [await cp.issueToken('agent', 'a'), await cp.issueToken('agent', 'b')];
      const reg = async (t: string, n: string) =>
        (
          (await call('/agent/graphql', t, Q.register, { i: { name: n, hostname: 'h', version: '0', taskQueue: n } }))
            .data as unknown as { registerAgent: { agentId: string } }
        ).registerAgent.agentId;
      const [a, b] = [await reg(ta, 'a'), await reg(tb, 'b')];
      await call('/graphql', user, Q.deploy, { i: { name: 'hello', module: 'examples/hello/definitions.ts' } });
      const claims = (t: string, id: string) =>
        call('/agent/graphql', t, Q.claim, { a: id }).then(
          (r) => (r.data as unknown as { claimWork: WorkItem[] }).claimWork,
        );
      const [sync] = await claims(ta, a);
      await call('/agent/graphql', ta, Q.ack, { a, i: sync!.id, w: workItemWorkflowId(sync!.id) });
      await call('/agent/graphql', ta, Q.report, {
        i: { agentId: a, location: 'hello', version: sync!.payload.version, status: 'LOADED', snapshot: SNAPSHOT },
      });
      const run = ((await call('/graphql', user, Q.launch)).data as unknown as { launchRun: { id: string } }).launchRun
        .id;
      const [launch] = await claims(ta, a);
      assert.equal(launch?.runId, run);
      // A dies before acking; its lease lapses and B (another deployment) claims the launch.
      await new Promise((r) => setTimeout(r, 400));
      const [again] = await claims(tb, b);
      assert.equal(again?.id, launch.id);
      assert.equal(
        codeOf(await call('/agent/graphql', ta, Q.ack, { a, i: launch.id, w: runWorkflowId(run) })),
        'OUTPOST_ERR_WORK_ITEM_NOT_OWNED',
      );
      assert.equal(
        codeOf(await call('/agent/graphql', ta, Q.append, { a, r: run, e: [ev(1, 'RUN_START')] })),
        'OUTPOST_ERR_RUN_NOT_OWNED',
      );
      const mine = await call('/agent/graphql', tb, Q.append, { a: b, r: run, e: [ev(1, 'RUN_START')] });
      assert.deepEqual(mine.data, { appendRunEvents: { highestContiguousSeq: 1, status: 'STARTED' } });
    } finally {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
