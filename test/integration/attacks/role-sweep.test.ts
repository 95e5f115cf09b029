// Every root field of the user API (each query, mutation and subscription the schema has, read
// from the schema, not listed here), called as each role: refused with ROLE_REQUIRED exactly when
// REQUIRED_ROLE (core/roles.ts) puts it above the role, and otherwise let through to its own
// merits; every mutation call, let through or refused, writes one audit row with its outcome.
// A resolver that forgot its guard, or a field whose decision says one thing while its resolver
// does another, fails here. Through the fetch handler, SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { Store, createControlPlaneFetchHandler, type FetchHandler } from '../../../src/control-plane/index.js';
import { REQUIRED_ROLE, USER_ROLES, can, type UserRole } from '../../../src/control-plane/core/roles.js';
import { createUserSchema } from '../../../src/control-plane/graphql/user-schema.js';
import { createToken } from '../../../src/control-plane/store/tokens.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';

/** A value of an input type that passes validation (required fields only), so the call reaches its guard. */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [sample(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) if (isNonNullType(f.type)) out[f.name] = sample(f.type);
    return out;
  }
  if (isScalarType(type))
    return ({ Int: 1, Float: 1, Boolean: true, JSON: {} } as Record<string, unknown>)[type.name] ?? 'x';
  return null;
}

type Kind = 'query' | 'mutation' | 'subscription';

/** One call of `field` with every argument given (`waitMs: 1` keeps waits short). */
function call(
  kind: Kind,
  field: GraphQLField<unknown, unknown>,
): { query: string; variables: Record<string, unknown> } {
  const decl = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const pass = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const named = getNamedType(field.type);
  const sel = isScalarType(named) || isEnumType(named) ? '' : '{ __typename }';
  return {
    query: `${kind}${decl ? `(${decl})` : ''} { ${field.name}${pass ? `(${pass})` : ''} ${sel} }`,
    variables: Object.fromEntries(field.args.map((a) => [a.name, sample(a.type)])),
  };
}

describeEachDialect('attacks: every user-API root field as every role', (target) => {
  let store: Store;
  let handler: FetchHandler;
  const tokens = {} as Record<UserRole, string>;
  const schema = createUserSchema();
  const roots: [Kind, GraphQLField<unknown, unknown>][] = (
    [
      ['query', schema.getQueryType()],
      ['mutation', schema.getMutationType()],
      ['subscription', schema.getSubscriptionType()],
    ] as const
  ).flatMap(([kind, t]) => Object.values(t?.getFields() ?? {}).map((f) => [kind, f] as [Kind, typeof f]));

  before(async () => {
    store = await Store.open({ url: await target.freshUrl() });
    handler = createControlPlaneFetchHandler({ store, logger: createLogger({ name: 'sweep', level: 'silent' }) });
    for (const role of USER_ROLES) tokens[role] = (await createToken(store, 'user', `sweep-${role}`, { role })).token;
  });
  after(() => store.close());

  /** The first error code of the answer (a subscription's from its first SSE message), or 'ok'. */
  async function codeOf(role: UserRole, kind: Kind, field: GraphQLField<unknown, unknown>): Promise<string> {
    const res = await handler(
      new Request('http://127.0.0.1/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: kind === 'subscription' ? 'text/event-stream' : 'application/json',
          authorization: `Bearer ${tokens[role]}`,
        },
        body: JSON.stringify(call(kind, field)),
      }),
    );
    let text = '';
    if (kind === 'subscription') {
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      while (!/\n\n/.test(text.replace(/^:.*\n\n/gm, ''))) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      await reader.cancel();
      text = /^data: (.*)$/m.exec(text)?.[1] ?? text;
    } else {
      text = await res.text();
    }
    const body = JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] };
    return body.errors?.[0]?.extensions?.code ?? 'ok';
  }

  async function auditRows(action: string): Promise<{ outcome: string; actor: string }[]> {
    return store.db
      .selectFrom('audit_log')
      .select(['outcome', 'actor'])
      .where('action', '=', action)
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .execute();
  }

  test('the schema is swept whole: queries, mutations and the subscription', () => {
    const kinds = new Set(roots.map(([k]) => k));
    assert.deepEqual([...kinds].sort(), ['mutation', 'query', 'subscription']);
    assert.equal(roots.length, Object.keys(REQUIRED_ROLE).length, 'every root field has a decision (roles.test.ts)');
  });

  for (const role of USER_ROLES) {
    test(`${role}: refused exactly the fields above it, and each mutation audited`, async () => {
      const wrong: string[] = [];
      for (const [kind, field] of roots) {
        const before = kind === 'mutation' ? (await auditRows(field.name)).length : 0;
        const code = await codeOf(role, kind, field);
        const refused = code === 'OUTPOST_ERR_ROLE_REQUIRED';
        if (refused === can(role, field.name)) wrong.push(`${kind} ${field.name}: ${code}`);
        if (kind === 'mutation') {
          const rows = await auditRows(field.name);
          if (rows.length !== before + 1 || rows[0]!.actor !== `sweep-${role}` || rows[0]!.outcome !== code) {
            wrong.push(`${field.name}: audit ${JSON.stringify(rows[0])} after ${code}`);
          }
        }
      }
      assert.deepEqual(wrong, [], `${role} can do more or less than REQUIRED_ROLE says`);
    });
  }
});
