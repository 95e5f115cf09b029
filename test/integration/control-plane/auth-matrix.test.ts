// Every operation of both APIs against no token, a wrong-kind token, a revoked token and a
// valid one: 401, 403, 401, and through to the resolver. Every agent operation naming an agent
// is refused (FORBIDDEN, nothing changed) for another token's agent or an unknown id. Operations
// are read from the schemas, so a new field is covered automatically. Tokens never reach the log.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { createControlPlaneFetchHandler, type FetchHandler } from '../../../src/control-plane/index.js';
import { createAgentSchema } from '../../../src/control-plane/graphql/agent-schema.js';
import { createUserSchema } from '../../../src/control-plane/graphql/user-schema.js';
import { createToken, revokeToken } from '../../../src/control-plane/store/tokens.js';
import { describeEachDialect } from '../../support/storage.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';
import { capturedLogger } from '../../support/captured-log.js';

/** A sample value of `type`; every `agentId` (argument or input field, even optional) is `agentId`. */
function sample(type: GraphQLInputType, agentId: string): unknown {
  if (isNonNullType(type)) return sample(type.ofType, agentId);
  if (isListType(type)) return [sample(type.ofType, agentId)];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) {
      if (f.name === 'agentId') out[f.name] = agentId;
      else if (isNonNullType(f.type)) out[f.name] = sample(f.type, agentId);
    }
    return out;
  }
  if (isScalarType(type)) {
    return ({ Int: 1, Float: 1, Boolean: true, JSON: {} } as Record<string, unknown>)[type.name] ?? 'x';
  }
  return null;
}

interface Operation {
  name: string;
  query: string;
  variables: Record<string, unknown>;
  /** Names an agent (an `agentId` argument or input field). */
  namesAgent: boolean;
}

function operations(schema: GraphQLSchema, agentId = 'x'): Operation[] {
  const out: Operation[] = [];
  for (const [kw, root] of [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ] as const) {
    if (!root) continue;
    for (const field of Object.values(root.getFields()) as GraphQLField<unknown, unknown>[]) {
      const args = field.args.filter((a) => isNonNullType(a.type));
      const namesAgent = args.some((a) => {
        const t = getNamedType(a.type);
        return a.name === 'agentId' || (isInputObjectType(t) && 'agentId' in t.getFields());
      });
      const decl = args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
      const call = args.map((a) => `${a.name}: $${a.name}`).join(', ');
      const sel = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
      out.push({
        name: `${kw} ${field.name}`,
        query: `${kw}${decl ? `(${decl})` : ''} { ${field.name}${call ? `(${call})` : ''}${sel} }`,
        // Zero waits so claimWork does not long-poll in the test.
        variables: Object.fromEntries(
          args.map((a) => [a.name, a.name === 'agentId' ? agentId : a.name === 'waitMs' ? 0 : sample(a.type, agentId)]),
        ),
        namesAgent,
      });
    }
  }
  return out;
}

// Registered with the harness's agent token before the matrix runs.
const AGENT_ID = 'agent_matrix';
const REGISTER = `mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agentId } }`;

describeEachDialect('auth matrix', (target) => {
  let h: Harness;
  let otherAgentToken: string;
  let handler: FetchHandler;
  let logged: string[] = [];
  let revokedUser: string;
  let revokedAgent: string;

  before(async () => {
    h = await openHarness(await target.freshUrl());
    const { logger, lines } = capturedLogger('auth-test', 'debug');
    logged = lines;
    handler = createControlPlaneFetchHandler({ store: h.store, logger, web: false });
    const u = await createToken(h.store, 'user', 'to-revoke');
    const a = await createToken(h.store, 'agent', 'to-revoke');
    await revokeToken(h.store, u.id);
    await revokeToken(h.store, a.id);
    revokedUser = u.token;
    revokedAgent = a.token;
    otherAgentToken = (await createToken(h.store, 'agent', 'another deployment')).token;
    const reg = await h.gql<{ registerAgent: { agentId: string } }>('agent', REGISTER, {
      i: { agentId: AGENT_ID, name: 'm', hostname: 'h', version: '0', taskQueue: 'q' },
    });
    assert.equal(reg.data?.registerAgent.agentId, AGENT_ID, JSON.stringify(reg.errors));
  });
  after(() => h.close());

  const call = async (path: string, op: Operation, token?: string) => {
    const res = await handler(
      new Request(`http://127.0.0.1${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: op.name.startsWith('subscription') ? 'text/event-stream' : 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query: op.query, variables: op.variables }),
      }),
    );
    const text = await res.text();
    return { status: res.status, text };
  };

  for (const api of ['user', 'agent'] as const) {
    const ops = operations(api === 'user' ? createUserSchema() : createAgentSchema(), AGENT_ID);
    const path = api === 'user' ? '/graphql' : '/agent/graphql';
    test(`${api} API: every operation × no / wrong-kind / revoked / valid token`, async () => {
      assert.ok(ops.length >= (api === 'user' ? 15 : 12), `found ${ops.length} operations`);
      const valid = api === 'user' ? h.userToken : h.agentToken;
      const wrong = api === 'user' ? h.agentToken : h.userToken;
      const revoked = api === 'user' ? revokedUser : revokedAgent;
      for (const op of ops) {
        const none = await call(path, op);
        assert.equal(none.status, 401, `${op.name} without token`);
        assert.match(none.text, /OUTPOST_ERR_UNAUTHENTICATED/);
        const bad = await call(path, op, `${valid.slice(0, 4)}${'A'.repeat(43)}`);
        assert.equal(bad.status, 401, `${op.name} with an unknown token`);
        const w = await call(path, op, wrong);
        assert.equal(w.status, 403, `${op.name} with a wrong-kind token`);
        assert.match(w.text, /OUTPOST_ERR_FORBIDDEN/);
        const r = await call(path, op, revoked);
        assert.equal(r.status, 401, `${op.name} with a revoked token`);
        const ok = await call(path, op, valid);
        assert.ok(
          ok.status < 500 && ok.status !== 401 && ok.status !== 403,
          `${op.name} valid: ${ok.status} ${ok.text}`,
        );
        assert.doesNotMatch(ok.text, /OUTPOST_ERR_(UNAUTHENTICATED|FORBIDDEN|INTERNAL)/, `${op.name}: ${ok.text}`);
      }
    });
  }

  const agentRow = () => h.store.db.selectFrom('agents').selectAll().where('id', '=', AGENT_ID).executeTakeFirst();

  test('agent API: every operation naming an agent × another token / unknown id → FORBIDDEN (AGENT_ID_TAKEN), nothing changed', async () => {
    const ops = operations(createAgentSchema(), AGENT_ID).filter((o) => o.namesAgent);
    assert.deepEqual(ops.map((o) => o.name.split(' ')[1]).sort(), [
      'ackWork',
      'appendComputeLogs',
      'appendRunEventLines',
      'appendRunEvents',
      'claimWork',
      'completeWork',
      'failWork',
      'heartbeat',
      'registerAgent',
      'reportCodeLocation',
      'reportRunLaunched',
      'reportRunLaunchedWithEvents',
      'runCursor',
      'runCursors',
      'workspace',
    ]);
    const unknownOps = operations(createAgentSchema(), 'agent_nope').filter(
      (o) => o.namesAgent && !o.name.endsWith('registerAgent'),
    );
    const before = JSON.stringify(await agentRow());
    for (const [op, token, who] of [
      ...ops.map((o) => [o, otherAgentToken, "another token's agent"] as const),
      ...unknownOps.map((o) => [o, h.agentToken, 'an unknown agent id'] as const),
    ]) {
      const r = await call('/agent/graphql', op, token);
      assert.ok(r.status < 500, `${op.name} as ${who}: ${r.status}`);
      const body = JSON.parse(r.text) as {
        data?: Record<string, unknown> | null;
        errors?: { extensions?: { code?: string } }[];
      };
      // Registering another token's agent id has its own code, saying how to rotate a token.
      const want = op.name.endsWith('registerAgent') ? 'OUTPOST_ERR_AGENT_ID_TAKEN' : 'OUTPOST_ERR_FORBIDDEN';
      assert.equal(body.errors?.[0]?.extensions?.code, want, `${op.name} as ${who}: ${r.text}`);
      assert.ok(!body.data || Object.values(body.data).every((v) => v === null), `${op.name} as ${who}: no data`);
    }
    assert.equal(JSON.stringify(await agentRow()), before, "the agent's row is unchanged");
    assert.equal(
      await h.store.db.selectFrom('agents').select('id').where('id', '=', 'agent_nope').executeTakeFirst(),
      undefined,
    );
  });

  test('several agents may share one token; re-registering with the same token keeps the binding', async () => {
    const shared = (await createToken(h.store, 'agent', 'scaled')).token;
    const ids: string[] = [];
    for (const name of ['s1', 's2', 's1']) {
      const r = await h.gql<{ registerAgent: { agentId: string } }>(
        'agent',
        REGISTER,
        {
          i: {
            ...(name === 's1' && ids[0] ? { agentId: ids[0] } : {}),
            name,
            hostname: 'h',
            version: '0',
            taskQueue: 'q',
          },
        },
        shared,
      );
      assert.ok(r.data, JSON.stringify(r.errors));
      ids.push(r.data.registerAgent.agentId);
    }
    assert.equal(ids[2], ids[0]);
    assert.notEqual(ids[1], ids[0]);
    for (const id of ids.slice(0, 2)) {
      const hb = await h.gql(
        'agent',
        `mutation($a: ID!) { heartbeat(input: { agentId: $a, codeServers: [], runningRunIds: [] }) }`,
        { a: id },
        shared,
      );
      assert.deepEqual(hb.data, { heartbeat: true }, JSON.stringify(hb.errors));
    }
  });

  test("an agent id stays its token's once revoked; only that token's successor re-registers it (rotation)", async () => {
    const old = await createToken(h.store, 'agent', 'old');
    const fresh = (await createToken(h.store, 'agent', 'new')).token;
    const i = { agentId: 'agent_rotated', name: 'r', hostname: 'h', version: '0', taskQueue: 'q' };
    assert.ok((await h.gql('agent', REGISTER, { i }, old.token)).data);
    const code = async (token: string) => (await h.gql('agent', REGISTER, { i }, token)).errors?.[0]?.extensions?.code;
    assert.equal(await code(fresh), 'OUTPOST_ERR_AGENT_ID_TAKEN', 'refused while the first token is live');
    await revokeToken(h.store, old.id);
    assert.equal(await code(fresh), 'OUTPOST_ERR_AGENT_ID_TAKEN', 'and once it is revoked');
    const successor = (await createToken(h.store, 'agent', 'successor', { replaces: old.id })).token;
    const r = await h.gql<{ registerAgent: { agentId: string } }>('agent', REGISTER, { i }, successor);
    assert.equal(r.data?.registerAgent.agentId, 'agent_rotated', JSON.stringify(r.errors));
  });

  test('an agent registered before tokens were bound is bound to the first token that acts as it', async () => {
    await h.store.db
      .insertInto('agents')
      .values({
        id: 'agent_legacy',
        name: 'l',
        hostname: 'h',
        version: '0',
        task_queue: 'q',
        metadata: '{}',
        registered_at: 1,
        last_heartbeat_at: 1,
        code_servers: '[]',
        running_run_ids: '[]',
        errors: '[]',
        token_id: null,
      })
      .execute();
    const beat = (token: string) =>
      h.gql(
        'agent',
        `mutation { heartbeat(input: { agentId: "agent_legacy", codeServers: [], runningRunIds: [] }) }`,
        {},
        token,
      );
    assert.deepEqual((await beat(h.agentToken)).data, { heartbeat: true });
    assert.equal((await beat(otherAgentToken)).errors?.[0]?.extensions?.code, 'OUTPOST_ERR_FORBIDDEN');
    assert.deepEqual((await beat(h.agentToken)).data, { heartbeat: true });
  });

  test('no token appears in the log', () => {
    const all = logged.join('');
    for (const t of [h.userToken, h.agentToken, revokedUser, revokedAgent]) assert.ok(!all.includes(t));
  });
});
