// Every operation of both APIs against no token, a wrong-kind token, a revoked token and a
// valid one: 401, 403, 401, and through to the resolver. Operations are read from the schemas,
// so a new field is covered automatically. Tokens never reach the log.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
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
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';
import { openHarness, type Harness } from './harness.js';

function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [sample(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) if (isNonNullType(f.type)) out[f.name] = sample(f.type);
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
}

function operations(schema: GraphQLSchema): Operation[] {
  const out: Operation[] = [];
  for (const [kw, root] of [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ] as const) {
    if (!root) continue;
    for (const field of Object.values(root.getFields()) as GraphQLField<unknown, unknown>[]) {
      const args = field.args.filter((a) => isNonNullType(a.type));
      const decl = args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
      const call = args.map((a) => `${a.name}: $${a.name}`).join(', ');
      const sel = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
      out.push({
        name: `${kw} ${field.name}`,
        query: `${kw}${decl ? `(${decl})` : ''} { ${field.name}${call ? `(${call})` : ''}${sel} }`,
        // Zero waits so claimWork does not long-poll in the test.
        variables: Object.fromEntries(args.map((a) => [a.name, a.name === 'waitMs' ? 0 : sample(a.type)])),
      });
    }
  }
  return out;
}

describeEachDialect('auth matrix', (target) => {
  let h: Harness;
  let handler: FetchHandler;
  const logged: string[] = [];
  let revokedUser: string;
  let revokedAgent: string;

  before(async () => {
    h = await openHarness(await target.freshUrl());
    const logger = createLogger({
      name: 'auth-test',
      level: 'debug',
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          logged.push(chunk.toString());
          cb();
        },
      }),
    });
    handler = createControlPlaneFetchHandler({ store: h.store, logger, web: false });
    const u = await createToken(h.store, 'user', 'to-revoke');
    const a = await createToken(h.store, 'agent', 'to-revoke');
    await revokeToken(h.store, u.id);
    await revokeToken(h.store, a.id);
    revokedUser = u.token;
    revokedAgent = a.token;
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
    const ops = operations(api === 'user' ? createUserSchema() : createAgentSchema());
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

  test('no token appears in the log', () => {
    const all = logged.join('');
    for (const t of [h.userToken, h.agentToken, revokedUser, revokedAgent]) assert.ok(!all.includes(t));
  });
});
