// Every field of the agent API (each query and mutation, read from the schema, not listed here)
// and each raw upload endpoint (AGENT_UPLOADS), called by agent B (token B) against agent A's
// work (token A): runs A launched or holds the launch of, their events, logs and cursors, the
// work items leased to A (a launch, a partition question, a sensor tick with its cursor), the
// location version A's deployment syncs. Each attempt is refused with its code, answers no
// data and leaves every table as it was; the few fields every agent may call on shared work by
// design say so and change nothing of A's. Each attempt that names B's agent id is also sent
// naming A's, and must fail at the token binding. A field added to agent.graphql (or an upload
// path added to the handler) without a classification here fails the first test.
// A real control plane on a socket, SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLOutputType,
} from 'graphql';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { createAgentSchema } from '../../../src/control-plane/graphql/agent-schema.js';
import { AGENT_UPLOADS } from '../../../src/control-plane/http/handler.js';
import { enqueueWork } from '../../../src/control-plane/store/work-items.js';
import { createLogger } from '../../../src/shared/logger.js';
import { runWorkflowId, workItemWorkflowId } from '../../../src/shared/workflow-contract.js';
import {
  answerOf,
  b64,
  ev,
  ok as okOf,
  registerAgent,
  syncHello,
  tableRows,
  type Answer,
  type Vars,
} from '../../support/agent-attack.js';
import { SNAPSHOT } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

/** One thing B tries through a field or an upload path. */
interface Attempt {
  what: string;
  /** The field's arguments, or an upload's query parameters (and `body`), as B sends them. */
  args: () => Vars;
  /**
   * The refusal's code, or ALLOWED: what any agent may do by design (then nothing of A's, and
   * nothing outside B's own agent row, may change, and `check` looks at the answer).
   */
  code: string;
  check?: (data: unknown) => void;
}

const ALLOWED = 'allowed by design';
const logger = createLogger({ name: 'agent-sweep', level: 'silent' });

/** Every leaf of `type` down to `depth` object levels, so whatever a field answers is seen. */
function selection(type: GraphQLOutputType, depth = 3): string {
  const named = getNamedType(type);
  if (!isObjectType(named) || depth === 0) return '';
  const parts = Object.values(named.getFields())
    .filter((f) => !f.args.some((a) => isNonNullType(a.type)))
    .map((f) => {
      const inner = getNamedType(f.type);
      if (isScalarType(inner) || isEnumType(inner)) return f.name;
      const sub = selection(f.type, depth - 1);
      return sub ? `${f.name} ${sub}` : '';
    })
    .filter(Boolean);
  return `{ ${parts.join(' ')} }`;
}

/** The document that calls `field` with every argument it declares, selecting everything. */
function documentFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const decl = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const pass = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  return `${kind}${decl ? `(${decl})` : ''} { ${field.name}${pass ? `(${pass})` : ''} ${selection(field.type)} }`;
}

/** Whether a field names its caller: an `agentId` argument, or one inside its input object. */
function namesAgent(field: GraphQLField<unknown, unknown>): boolean {
  return field.args.some((a) => {
    if (a.name === 'agentId') return true;
    const t = getNamedType(a.type);
    return isInputObjectType(t) && 'agentId' in t.getFields();
  });
}

/** `args` with each agentId equal to `from` (top level, or in an input object) set to `to`. */
function renamed(args: Vars, from: string, to: string): Vars | undefined {
  let changed = false;
  const swap = (v: Vars): Vars => {
    const out: Vars = { ...v };
    if (out.agentId === from) {
      out.agentId = to;
      changed = true;
    }
    for (const [k, x] of Object.entries(out)) {
      if (x && typeof x === 'object' && !Array.isArray(x)) out[k] = swap(x as Vars);
    }
    return out;
  };
  const out = swap(args);
  return changed ? out : undefined;
}

describeEachDialect('attack: agent B calls every agent-API field on agent A’s work', (target) => {
  const schema = createAgentSchema();
  const fields: ['query' | 'mutation', GraphQLField<unknown, unknown>][] = [
    ...Object.values(schema.getQueryType()?.getFields() ?? {}).map((f) => ['query', f] as ['query', typeof f]),
    ...Object.values(schema.getMutationType()?.getFields() ?? {}).map((f) => ['mutation', f] as ['mutation', typeof f]),
  ];
  const uploads = Object.keys(AGENT_UPLOADS).map((p) => `POST ${p}`);

  let cp: ControlPlane;
  const tok = { user: '', a: '', b: '' };
  const agent = { a: '', b: '' };
  /** A's work: `launched` (reported launched, with events and stdout), `held` (claimed, not acked). */
  const run = { launched: '', held: '', canceled: '' };
  const item = { sync: '', launched: '', held: '', question: '', sensor: '', canceled: '' };
  let version = 0;

  const post = (path: '/graphql' | '/agent/graphql', token: string, query: string, variables: Vars = {}) =>
    answerOf(cp, path, token, query, variables);
  const ok = async <T = Vars>(p: Promise<Answer>): Promise<T> => okOf(await p) as T;
  const asA = (q: string, v: Vars = {}) => post('/agent/graphql', tok.a, q, v);
  const asUser = (q: string, v: Vars = {}) => post('/graphql', tok.user, q, v);

  /** Every row of every table except B's own agent row. */
  const rows = () => tableRows(cp, (t, row) => t === 'agents' && row.id === agent.b);

  const forgedLine = () => JSON.stringify(ev(3, 'RUN_SUCCESS', 'forged'));
  const logArgs = (runId: string, stream: string, offset: number) => ({
    agentId: agent.b,
    runId,
    stream,
    offset,
    data: b64('forged\n'),
  });

  /** What B tries, per field (`Query.x`, `Mutation.x`) and per upload path (`POST /agent/...`). */
  const ATTEMPTS: Record<string, Attempt[]> = {
    'Query.workspace': [
      {
        // Every agent serves the whole workspace (any agent may claim any location's sync), so
        // each gets every spec as deployed; it is the deployment's, not one agent's.
        what: 'the workspace',
        args: () => ({ agentId: agent.b }),
        code: ALLOWED,
        check: (d) =>
          assert.deepEqual(
            (d as { name: string }[]).map((l) => l.name),
            ['hello'],
          ),
      },
    ],
    'Query.runCursor': [
      {
        what: 'the cursor of the run A launched',
        args: () => ({ agentId: agent.b, runId: run.launched }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
      {
        what: 'the cursor of the run whose launch A holds',
        args: () => ({ agentId: agent.b, runId: run.held }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
    ],
    'Query.runCursors': [
      {
        what: "A's runs among B's",
        args: () => ({ agentId: agent.b, runIds: [run.launched, run.held] }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
    ],
    'Mutation.registerAgent': [
      {
        what: "register under A's agent id",
        args: () => ({ input: { agentId: agent.a, name: 'b', hostname: 'h', version: '0', taskQueue: 'q-a' } }),
        code: 'OUTPOST_ERR_AGENT_ID_TAKEN',
      },
    ],
    'Mutation.heartbeat': [
      {
        // Accepted for B's own row; A's runs and A's location are dropped from it.
        what: "a heartbeat listing A's runs and A's location as ERROR",
        args: () => ({
          input: {
            agentId: agent.b,
            codeServers: [{ location: 'hello', status: 'ERROR', error: 'forged' }],
            runningRunIds: [run.launched, run.held],
            errors: ['forged'],
          },
        }),
        code: ALLOWED,
        check: (d) => assert.equal(d, true),
      },
    ],
    'Mutation.claimWork': [
      {
        // Any agent may claim what is queued (nothing is); acks of A's items ride along and are skipped.
        what: "a claim carrying acks of A's items",
        args: () => ({
          agentId: agent.b,
          limit: 10,
          waitMs: 0,
          acks: [
            { id: item.held, workflowId: runWorkflowId(run.held) },
            { id: item.question, workflowId: workItemWorkflowId(item.question) },
            { id: item.sensor, workflowId: workItemWorkflowId(item.sensor) },
          ],
        }),
        code: ALLOWED,
        check: (d) => assert.deepEqual(d, []),
      },
    ],
    'Mutation.ackWork': [
      {
        what: "ack A's claimed launch",
        args: () => ({ agentId: agent.b, id: item.held, workflowId: runWorkflowId(run.held) }),
        code: 'OUTPOST_ERR_WORK_ITEM_NOT_OWNED',
      },
      {
        what: "ack A's acked launch",
        args: () => ({ agentId: agent.b, id: item.launched, workflowId: runWorkflowId(run.launched) }),
        code: 'OUTPOST_ERR_WORK_ITEM_NOT_OWNED',
      },
      {
        what: "ack A's partition question",
        args: () => ({ agentId: agent.b, id: item.question, workflowId: workItemWorkflowId(item.question) }),
        code: 'OUTPOST_ERR_WORK_ITEM_NOT_OWNED',
      },
      {
        what: 'ack a launch canceled before any claim',
        args: () => ({ agentId: agent.b, id: item.canceled, workflowId: runWorkflowId(run.canceled) }),
        code: 'OUTPOST_ERR_WORK_ITEM_NOT_OWNED',
      },
    ],
    'Mutation.completeWork': [
      {
        what: "answer A's partition question (a key set of B's choosing)",
        args: () => ({
          agentId: agent.b,
          id: item.question,
          result: { answer: { keys: ['forged'], offset: 0, total: 1 } },
        }),
        code: 'OUTPOST_ERR_FORBIDDEN',
      },
      {
        what: "complete A's sensor tick with a cursor of B's",
        args: () => ({ agentId: agent.b, id: item.sensor, result: { runRequests: [], cursor: 'forged' } }),
        code: 'OUTPOST_ERR_FORBIDDEN',
      },
      {
        what: "complete A's held launch",
        args: () => ({ agentId: agent.b, id: item.held, result: { status: 'SUCCESS' } }),
        code: 'OUTPOST_ERR_FORBIDDEN',
      },
      {
        what: "complete A's sync of hello",
        args: () => ({ agentId: agent.b, id: item.sync, result: {} }),
        code: 'OUTPOST_ERR_FORBIDDEN',
      },
      {
        // Finished without ever being leased: answered as it is, changing nothing. It was never
        // anyone's work, and while it was queued any agent could have claimed it.
        what: 'complete a launch canceled before any claim',
        args: () => ({ agentId: agent.b, id: item.canceled, result: {} }),
        code: ALLOWED,
        check: (d) => assert.equal((d as { status: string }).status, 'FAILED'),
      },
    ],
    'Mutation.failWork': [
      {
        what: "fail A's partition question",
        args: () => ({ agentId: agent.b, id: item.question, error: { code: 'OUTPOST_ERR_INTERNAL', message: 'x' } }),
        code: 'OUTPOST_ERR_FORBIDDEN',
      },
      {
        what: "fail A's held launch (which would fail its run)",
        args: () => ({ agentId: agent.b, id: item.held, error: { code: 'OUTPOST_ERR_INTERNAL', message: 'forged' } }),
        code: 'OUTPOST_ERR_FORBIDDEN',
      },
      {
        what: "fail A's acked launch",
        args: () => ({ agentId: agent.b, id: item.launched, error: { code: 'OUTPOST_ERR_INTERNAL', message: 'x' } }),
        code: 'OUTPOST_ERR_FORBIDDEN',
      },
      {
        what: 'fail a launch canceled before any claim (as completeWork)',
        args: () => ({ agentId: agent.b, id: item.canceled, error: { code: 'OUTPOST_ERR_INTERNAL', message: 'x' } }),
        code: ALLOWED,
        check: (d) => assert.equal((d as { status: string }).status, 'FAILED'),
      },
    ],
    'Mutation.reportCodeLocation': [
      {
        what: 'mark hello ERROR at the version A syncs',
        args: () => ({ input: { agentId: agent.b, location: 'hello', version, status: 'ERROR', error: 'forged' } }),
        code: 'OUTPOST_ERR_LOCATION_NOT_OWNED',
      },
      {
        what: 'report a snapshot of its own for hello',
        args: () => ({ input: { agentId: agent.b, location: 'hello', version, status: 'LOADED', snapshot: SNAPSHOT } }),
        code: 'OUTPOST_ERR_LOCATION_NOT_OWNED',
      },
    ],
    'Mutation.reportRunLaunched': [
      {
        what: 'report the run whose launch A holds launched',
        args: () => ({ agentId: agent.b, runId: run.held, info: { pid: 1 } }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
      {
        what: 'report the run A launched launched',
        args: () => ({ agentId: agent.b, runId: run.launched, info: { pid: 1 } }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
    ],
    'Mutation.reportRunLaunchedWithEvents': [
      {
        what: "launch A's held run with a RUN_SUCCESS",
        args: () => ({ agentId: agent.b, runId: run.held, info: {}, lines: JSON.stringify(ev(1, 'RUN_SUCCESS')) }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
      {
        what: "end A's launched run",
        args: () => ({ agentId: agent.b, runId: run.launched, info: {}, lines: forgedLine() }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
    ],
    'Mutation.appendRunEvents': [
      {
        what: "RUN_SUCCESS on A's launched run",
        args: () => ({ agentId: agent.b, runId: run.launched, events: [ev(3, 'RUN_SUCCESS', 'forged')] }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
      {
        what: "RUN_START on A's held run",
        args: () => ({ agentId: agent.b, runId: run.held, events: [ev(1, 'RUN_START', 'forged')] }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
    ],
    'Mutation.appendRunEventLines': [
      {
        what: "NDJSON RUN_SUCCESS on A's launched run",
        args: () => ({ agentId: agent.b, runId: run.launched, lines: forgedLine() }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
      {
        what: "NDJSON on A's held run",
        args: () => ({ agentId: agent.b, runId: run.held, lines: JSON.stringify(ev(1, 'RUN_START')) }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
    ],
    'Mutation.appendComputeLogs': [
      {
        what: "stdout after A's bytes",
        args: () => logArgs(run.launched, 'STDOUT', 19),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
      {
        what: "stderr of A's held run",
        args: () => logArgs(run.held, 'STDERR', 0),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
    ],
    'POST /agent/events': [
      {
        what: "raw NDJSON RUN_SUCCESS on A's launched run",
        args: () => ({ agentId: agent.b, runId: run.launched, body: forgedLine() }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
    ],
    'POST /agent/logs': [
      {
        what: "raw stdout bytes on A's launched run",
        args: () => ({ agentId: agent.b, runId: run.launched, stream: 'stdout', offset: '19', body: 'forged\n' }),
        code: 'OUTPOST_ERR_RUN_NOT_OWNED',
      },
    ],
  };

  before(async () => {
    cp = await startControlPlane({ databaseUrl: await target.freshUrl(), port: 0, logger, daemon: false, web: false });
    tok.user = await cp.issueToken('user', 'admin');
    tok.a = await cp.issueToken('agent', 'deployment-a');
    tok.b = await cp.issueToken('agent', 'deployment-b');
    agent.a = await registerAgent(cp, tok.a, 'a');
    agent.b = await registerAgent(cp, tok.b, 'b');
    const claim = `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { id kind runId } }`;
    const ack = `mutation($a: ID!, $i: ID!, $w: String!) { ackWork(agentId: $a, id: $i, workflowId: $w) { id } }`;
    const launch = `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`;

    // A's deployment syncs hello.
    ({ version, syncItem: item.sync } = await syncHello(cp, tok.user, { token: tok.a, agent: agent.a }));

    // Two launches, a partition question and a sensor tick, all claimed by A; a third launch is
    // canceled while still queued (its item FAILED, never leased to anyone).
    run.launched = (await ok<{ launchRun: { id: string } }>(asUser(launch))).launchRun.id;
    run.held = (await ok<{ launchRun: { id: string } }>(asUser(launch))).launchRun.id;
    const question = await enqueueWork(cp.store, {
      kind: 'QUERY_CODE_LOCATION',
      payload: { location: 'hello', query: 'partitionNames', job: 'hello' },
    });
    item.question = question.item.id;
    const sensor = await enqueueWork(cp.store, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'hello', sensor: 'file_sensor', cursor: 'a-cursor-of-A' },
    });
    item.sensor = sensor.item.id;
    run.canceled = (await ok<{ launchRun: { id: string } }>(asUser(launch))).launchRun.id;
    await ok(asUser(`mutation($r: ID!) { terminateRun(id: $r) { id } }`, { r: run.canceled }));
    const canceled = await cp.store.db
      .selectFrom('work_items')
      .select(['id', 'status', 'lease_owner'])
      .where('run_id', '=', run.canceled)
      .executeTakeFirstOrThrow();
    assert.deepEqual([canceled.status, canceled.lease_owner], ['FAILED', null]);
    item.canceled = canceled.id;

    const claimed = (await ok<{ claimWork: { id: string; runId: string | null }[] }>(asA(claim, { a: agent.a })))
      .claimWork;
    assert.equal(claimed.length, 4, JSON.stringify(claimed));
    item.launched = claimed.find((w) => w.runId === run.launched)!.id;
    item.held = claimed.find((w) => w.runId === run.held)!.id;
    await ok(asA(ack, { a: agent.a, i: item.launched, w: runWorkflowId(run.launched) }));
    await ok(
      asA(`mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r, info: { pid: 1 }) }`, {
        a: agent.a,
        r: run.launched,
      }),
    );
    await ok(
      asA(
        `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { status } }`,
        { a: agent.a, r: run.launched, e: [ev(1, 'RUN_START'), ev(2, 'LOG')] },
      ),
    );
    await ok(
      asA(
        `mutation($a: ID!, $r: ID!, $d: String!) { appendComputeLogs(agentId: $a, runId: $r, stream: STDOUT, offset: 0, data: $d) { storedBytes } }`,
        { a: agent.a, r: run.launched, d: b64('hello from outpost\n') },
      ),
    );
  });
  after(async () => {
    await cp?.close();
  });

  test('every field and upload path is classified: a new one fails here until it is', () => {
    const swept = [...fields.map(([k, f]) => `${k === 'query' ? 'Query' : 'Mutation'}.${f.name}`), ...uploads];
    assert.deepEqual(Object.keys(ATTEMPTS).sort(), swept.sort());
    for (const [key, list] of Object.entries(ATTEMPTS)) assert.ok(list.length > 0, `${key}: no attempt`);
    assert.ok(fields.length >= 15 && uploads.length >= 2, 'the schema and the upload paths were read');
  });

  /** B's attempt, then A's id in B's hands; each checked against its code and the tables. */
  async function attempt(key: string, send: (args: Vars) => Promise<Answer>, a: Attempt, names: boolean) {
    const tries: [string, Vars, string][] = [[a.what, a.args(), a.code]];
    const asA = names ? renamed(a.args(), agent.b, agent.a) : undefined;
    if (asA) tries.push([`${a.what}, naming A's agent id`, asA, 'OUTPOST_ERR_FORBIDDEN']);
    const wrong: string[] = [];
    for (const [what, args, code] of tries) {
      const before = await rows();
      const r = await send(args);
      const got = r.errors?.[0]?.extensions?.code;
      if (code === ALLOWED) {
        if (r.errors) wrong.push(`${key} (${what}): refused ${JSON.stringify(r.errors)}`);
        else a.check?.(Object.values(r.data ?? {})[0]);
      } else {
        if (got !== code) wrong.push(`${key} (${what}): ${got ?? 'answered'} instead of ${code}: ${JSON.stringify(r)}`);
        if (r.data && Object.values(r.data).some((v) => v !== null))
          wrong.push(`${key} (${what}): data ${JSON.stringify(r.data)}`);
        if (got === code && !r.errors?.[0]?.extensions?.hint) wrong.push(`${key} (${what}): no hint`);
      }
      if ((await rows()) !== before) wrong.push(`${key} (${what}): a row changed`);
    }
    return wrong;
  }

  test('B is refused each field on A’s work, answers nothing and changes nothing', async () => {
    const wrong: string[] = [];
    for (const [kind, field] of fields) {
      const key = `${kind === 'query' ? 'Query' : 'Mutation'}.${field.name}`;
      const doc = documentFor(kind, field);
      for (const a of ATTEMPTS[key] ?? []) {
        wrong.push(...(await attempt(key, (v) => post('/agent/graphql', tok.b, doc, v), a, namesAgent(field))));
      }
    }
    assert.deepEqual(wrong, []);
  });

  test('B is refused each upload path on A’s runs, and changes nothing', async () => {
    const wrong: string[] = [];
    for (const key of uploads) {
      const path = key.slice('POST '.length);
      const type = path === '/agent/logs' ? 'application/octet-stream' : 'application/x-ndjson';
      const send = async ({ body, ...params }: Vars): Promise<Answer> => {
        const q = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
        const res = await fetch(`${cp.url}${path}?${q}`, {
          method: 'POST',
          headers: { 'content-type': type, authorization: `Bearer ${tok.b}` },
          body: String(body),
        });
        return (await res.json()) as Answer;
      };
      for (const a of ATTEMPTS[key] ?? []) wrong.push(...(await attempt(key, send, a, true)));
    }
    assert.deepEqual(wrong, []);
  });

  test('after the sweep A still writes its own work', async () => {
    const r = await ok<{ appendRunEvents: { highestContiguousSeq: number; status: string } }>(
      asA(
        `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { highestContiguousSeq status } }`,
        { a: agent.a, r: run.launched, e: [ev(3, 'LOG')] },
      ),
    );
    assert.deepEqual(r.appendRunEvents, { highestContiguousSeq: 3, status: 'STARTED' });
    const loc = await ok<{ codeLocation: { status: string } }>(asUser(`{ codeLocation(name: "hello") { status } }`));
    assert.equal(loc.codeLocation.status, 'LOADED');
  });
});
