// Attack suite, round 13's open findings, on SQLite and PostgreSQL with a real control plane on a
// socket. (1) Once agent A's token is revoked, another live agent token B registers with A's id
// (which any VIEWER reads from `agents`) and then writes A's runs: refused; only a token an ADMIN
// created as A's token's successor takes the id over (rotation), and the audit log says so.
// (A takeover whose audit row the database refuses is not done: the id stays with the old token.)
// (2) Any agent's heartbeat could list any location's code server and make it read reachable:
// only the deployment syncing the location counts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { openDatabase } from '../../../src/control-plane/store/connect.js';
import { migrateTo } from '../../../src/control-plane/store/migrations.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { getToken } from '../../../src/control-plane/store/tokens.js';
import { createLogger } from '../../../src/shared/logger.js';
import {
  answerOf,
  ev,
  launchedRun,
  ok,
  registerAgent,
  syncHello,
  tableRows,
  type Answer,
  type Vars,
} from '../../support/agent-attack.js';
import { describeEachDialect } from '../../support/storage.js';

const logger = createLogger({ name: 'attack', level: 'silent' });
const codeOf = (r: Answer<unknown>): string | undefined => r.errors?.[0]?.extensions?.code;

const Q = {
  register: `mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agentId } }`,
  beat: `mutation($a: ID!, $c: [CodeServerStatusInput!]!) { heartbeat(input: { agentId: $a, codeServers: $c, runningRunIds: [] }) }`,
  claim: `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { id kind runId payload } }`,
  ack: `mutation($a: ID!, $i: ID!, $w: String!) { ackWork(agentId: $a, id: $i, workflowId: $w) { id status } }`,
  report: `mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }`,
  launched: `mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r, info: { pid: 1 }) }`,
  append: `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { highestContiguousSeq status } }`,
  deploy: `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
  launch: `mutation { launchRun(input: { location: "hello", job: "hello" }) { id status } }`,
  createToken: `mutation($k: TokenKind!, $n: String!) { createToken(kind: $k, name: $n) { id token } }`,
  createSuccessor: `mutation($k: TokenKind!, $n: String!, $r: ID) { createToken(kind: $k, name: $n, replaces: $r) { id token } }`,
  revoke: `mutation($id: ID!) { revokeToken(id: $id) { id } }`,
  reachable: `query($n: String!) { codeLocation(name: $n) { reachable } }`,
  agents: `{ agents { id codeServers } }`,
};

interface WorkItem {
  id: string;
  kind: string;
  runId: string | null;
  payload: { version?: number };
}

const reg = (name: string, agentId?: string) => ({
  i: { ...(agentId ? { agentId } : {}), name, hostname: 'h', version: '0', taskQueue: `q-${name}` },
});

describeEachDialect('attack: an agent id taken over by another token', (target) => {
  let cp: ControlPlane;
  let userToken = '';
  const a = { token: '', tokenId: '', agent: '' };
  const b = { token: '', tokenId: '', agent: '' };
  let runId = '';

  const asAgent = <T = Record<string, unknown>>(token: string, q: string, v: Vars = {}) =>
    answerOf<T>(cp, '/agent/graphql', token, q, v);
  const asUser = <T = Record<string, unknown>>(q: string, v: Vars = {}) => answerOf<T>(cp, '/graphql', userToken, q, v);
  async function newAgentToken(name: string, replaces?: string): Promise<{ id: string; token: string }> {
    return ok(
      await asUser<{ createToken: { id: string; token: string } }>(replaces ? Q.createSuccessor : Q.createToken, {
        k: 'AGENT',
        n: name,
        ...(replaces ? { r: replaces } : {}),
      }),
    ).createToken;
  }

  const rows = () => tableRows(cp);

  before(async () => {
    cp = await startControlPlane({ databaseUrl: await target.freshUrl(), port: 0, logger, daemon: false, web: false });
    userToken = await cp.issueToken('user', 'admin');
    for (const [who, name] of [
      [a, 'deployment-a'],
      [b, 'deployment-b'],
    ] as const) {
      const t = await newAgentToken(name);
      who.token = t.token;
      who.tokenId = t.id;
      who.agent = await registerAgent(cp, t.token, name);
    }
    // A syncs `hello`, reports it LOADED, claims a launch, reports it launched and ships events.
    await syncHello(cp, userToken, a);
    ({ runId } = await launchedRun(cp, userToken, a));
  });
  after(async () => {
    await cp?.close();
  });

  test("B's heartbeat cannot make a location it does not sync read as reachable", async () => {
    // `lonely` is deployed but no agent has claimed its sync: nobody serves it.
    ok(await asUser(Q.deploy, { i: { name: 'lonely', module: 'examples/hello/definitions.ts' } }));
    const reachable = async (n: string) =>
      ok(await asUser<{ codeLocation: { reachable: boolean } }>(Q.reachable, { n })).codeLocation.reachable;
    const servers = async (id: string) =>
      ok(await asUser<{ agents: { id: string; codeServers: { location: string }[] }[] }>(Q.agents))
        .agents.find((x) => x.id === id)!
        .codeServers.map((c) => c.location);
    const lie = [
      { location: 'lonely', status: 'LOADED' },
      { location: 'hello', status: 'LOADED' },
    ];
    assert.deepEqual(ok(await asAgent(b.token, Q.beat, { a: b.agent, c: lie })), { heartbeat: true });
    assert.equal(await reachable('lonely'), false, 'B does not serve lonely');
    assert.deepEqual(await servers(b.agent), [], "B's list keeps neither lonely nor A's hello");
    // A serves hello (its deployment synced it), so its own heartbeat is kept as sent.
    ok(await asAgent(a.token, Q.beat, { a: a.agent, c: lie }));
    assert.deepEqual(await servers(a.agent), ['hello']);
    assert.equal(await reachable('hello'), true);
    // Redeployed, hello's new version is not claimed yet: A still serves the version before.
    ok(await asUser(Q.deploy, { i: { name: 'hello', module: 'examples/hello/definitions.ts' } }));
    ok(await asAgent(a.token, Q.beat, { a: a.agent, c: lie }));
    assert.deepEqual(await servers(a.agent), ['hello']);
    // Once B's deployment claims both syncs, B serves both and A no longer serves hello.
    const claimed = ok(await asAgent<{ claimWork: WorkItem[] }>(b.token, Q.claim, { a: b.agent })).claimWork;
    assert.equal(claimed.filter((w) => w.kind === 'SYNC_CODE_LOCATION').length, 2);
    ok(await asAgent(b.token, Q.beat, { a: b.agent, c: lie }));
    ok(await asAgent(a.token, Q.beat, { a: a.agent, c: lie }));
    assert.deepEqual(await servers(b.agent), ['lonely', 'hello']);
    assert.deepEqual(await servers(a.agent), []);
  });

  test("B's heartbeat cannot list A's run as running on B; A's own is kept", async () => {
    const beatRuns = `mutation($a: ID!, $r: [ID!]!) { heartbeat(input: { agentId: $a, codeServers: [], runningRunIds: $r }) }`;
    const running = async (id: string) =>
      ok(
        await asUser<{ agents: { id: string; runningRunIds: string[] }[] }>(`{ agents { id runningRunIds } }`),
      ).agents.find((x) => x.id === id)!.runningRunIds;
    ok(await asAgent(b.token, beatRuns, { a: b.agent, r: [runId, 'run_nope'] }));
    assert.deepEqual(await running(b.agent), []);
    ok(await asAgent(a.token, beatRuns, { a: a.agent, r: [runId] }));
    assert.deepEqual(await running(a.agent), [runId]);
  });

  test("once A's token is revoked, B can neither register as A's agent nor write its run", async () => {
    ok(await asUser(Q.revoke, { id: a.tokenId }));
    const before = await rows();
    const r = await asAgent(b.token, Q.register, reg('impostor', a.agent));
    assert.equal(codeOf(r), 'OUTPOST_ERR_AGENT_ID_TAKEN', JSON.stringify(r));
    assert.match(r.errors?.[0]?.extensions?.hint ?? '', /--replaces/, 'the refusal says how to rotate');
    assert.equal(r.data ?? null, null);
    assert.equal(
      codeOf(await asAgent(b.token, Q.append, { a: a.agent, r: runId, e: [ev(3, 'RUN_SUCCESS')] })),
      'OUTPOST_ERR_FORBIDDEN',
    );
    const raw = await fetch(
      `${cp.url}/agent/events?agentId=${encodeURIComponent(a.agent)}&runId=${encodeURIComponent(runId)}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${b.token}` },
        body: JSON.stringify(ev(3, 'RUN_SUCCESS')) + '\n',
      },
    );
    assert.equal(raw.status, 403);
    assert.equal(await rows(), before, 'no row changed');
    // A fresh token that no ADMIN made A's successor is refused the same way.
    const fresh = await newAgentToken('fresh');
    assert.equal(codeOf(await asAgent(fresh.token, Q.register, reg('fresh', a.agent))), 'OUTPOST_ERR_AGENT_ID_TAKEN');
  });

  test("rotation: A's successor takes the id over, writes the run, and the audit log records it", async () => {
    const next = await newAgentToken('deployment-a-2', a.tokenId);
    const r = await asAgent<{ registerAgent: { agentId: string } }>(next.token, Q.register, reg('a', a.agent));
    assert.equal(r.data?.registerAgent.agentId, a.agent, JSON.stringify(r.errors));
    const more = await asAgent(next.token, Q.append, { a: a.agent, r: runId, e: [ev(3, 'LOG')] });
    assert.deepEqual(more.data, { appendRunEvents: { highestContiguousSeq: 3, status: 'STARTED' } });
    const audit = await cp.store.db
      .selectFrom('audit_log')
      .select(['action', 'target', 'actor_token_id', 'outcome'])
      .where('action', 'in', ['createToken', 'takeOverAgent'])
      .orderBy('at')
      .execute();
    assert.ok(
      audit.some((e) => e.action === 'createToken' && e.target === `agent deployment-a-2 replaces ${a.tokenId}`),
      JSON.stringify(audit),
    );
    assert.deepEqual(
      audit.filter((e) => e.action === 'takeOverAgent'),
      [{ action: 'takeOverAgent', target: `${a.agent} from ${a.tokenId}`, actor_token_id: next.id, outcome: 'ok' }],
    );
    assert.equal((await getToken(cp.store, next.id))?.replaces, a.tokenId);
  });

  test("a live token's successor takes over at once (rotation without downtime); the old token then may not act", async () => {
    const old = await newAgentToken('live-old');
    const id = ok(await asAgent<{ registerAgent: { agentId: string } }>(old.token, Q.register, reg('live')))
      .registerAgent.agentId;
    const next = await newAgentToken('live-new', old.id);
    ok(await asAgent(next.token, Q.register, reg('live', id)));
    ok(await asAgent(next.token, Q.beat, { a: id, c: [] }));
    assert.equal(codeOf(await asAgent(old.token, Q.beat, { a: id, c: [] })), 'OUTPOST_ERR_FORBIDDEN');
    assert.equal(codeOf(await asAgent(old.token, Q.register, reg('live', id))), 'OUTPOST_ERR_AGENT_ID_TAKEN');
  });

  test('a takeover whose audit row cannot be written is not done; its retry is audited', async () => {
    const old = await newAgentToken('audit-old');
    const id = ok(await asAgent<{ registerAgent: { agentId: string } }>(old.token, Q.register, reg('audit')))
      .registerAgent.agentId;
    const next = await newAgentToken('audit-new', old.id);
    // The database itself refuses the takeover's audit row.
    if (target.dialect === 'sqlite') {
      await sql`CREATE TRIGGER refuse_takeover_audit BEFORE INSERT ON audit_log WHEN NEW.action = 'takeOverAgent'
        BEGIN SELECT RAISE(ABORT, 'audit refused'); END`.execute(cp.store.db);
    } else {
      await sql`CREATE FUNCTION refuse_takeover_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.action = 'takeOverAgent' THEN RAISE EXCEPTION 'audit refused'; END IF; RETURN NEW; END $$`.execute(
        cp.store.db,
      );
      await sql`CREATE TRIGGER refuse_takeover_audit BEFORE INSERT ON audit_log
        FOR EACH ROW EXECUTE FUNCTION refuse_takeover_audit()`.execute(cp.store.db);
    }
    const bound = async () =>
      (await cp.store.db.selectFrom('agents').select('token_id').where('id', '=', id).executeTakeFirst())?.token_id;
    try {
      assert.ok((await asAgent(next.token, Q.register, reg('audit', id))).errors);
      assert.equal(await bound(), old.id, 'the id stays with the old token while its takeover cannot be audited');
    } finally {
      await sql`DROP TRIGGER refuse_takeover_audit${sql.raw(target.dialect === 'sqlite' ? '' : ' ON audit_log')}`.execute(
        cp.store.db,
      );
    }
    ok(await asAgent(next.token, Q.register, reg('audit', id)));
    assert.equal(await bound(), next.id);
    const audited = await cp.store.db
      .selectFrom('audit_log')
      .select(['target', 'actor_token_id'])
      .where('action', '=', 'takeOverAgent')
      .where('target', '=', `${id} from ${old.id}`)
      .execute();
    assert.deepEqual(audited, [{ target: `${id} from ${old.id}`, actor_token_id: next.id }]);
  });

  test('only an agent token replaces, and only an existing agent token', async () => {
    const user = await asUser<{ createToken: { id: string } }>(Q.createSuccessor, { k: 'USER', n: 'u', r: a.tokenId });
    assert.equal(codeOf(user), 'OUTPOST_ERR_INVALID_ARGUMENT');
    const [me] = await cp.store.db.selectFrom('tokens').select('id').where('kind', '=', 'user').execute();
    assert.equal(
      codeOf(await asUser(Q.createSuccessor, { k: 'AGENT', n: 'x', r: me!.id })),
      'OUTPOST_ERR_INVALID_ARGUMENT',
    );
    assert.equal(
      codeOf(await asUser(Q.createSuccessor, { k: 'AGENT', n: 'x', r: 'tok_nope' })),
      'OUTPOST_ERR_UNKNOWN_TOKEN',
    );
  });
});

describeEachDialect('token successor migration (0014)', (target) => {
  test('tokens from before keep their agents bound and replace nothing', async () => {
    const url = await target.freshUrl();
    const old = openDatabase<unknown>({ url });
    await migrateTo(old.db, old.dialect, '0012_asset_events');
    await sql`INSERT INTO tokens (id, kind, name, hash, created_at) VALUES ('tok_a', 'agent', 'a', 'h_a', 1)`.execute(
      old.db,
    );
    await sql`INSERT INTO agents (id, name, hostname, version, task_queue, metadata, registered_at, last_heartbeat_at,
        code_servers, running_run_ids, errors, token_id)
      VALUES ('agent_a', 'a', 'h', '0', 'q', '{}', 1, 1, '[]', '[]', '[]', 'tok_a')`.execute(old.db);
    await old.db.destroy();
    const store = await Store.open({ url });
    try {
      assert.equal((await getToken(store, 'tok_a'))?.replaces, null);
      const row = await store.db.selectFrom('agents').select('token_id').where('id', '=', 'agent_a').executeTakeFirst();
      assert.equal(row?.token_id, 'tok_a');
    } finally {
      await store.close();
    }
  });
});
