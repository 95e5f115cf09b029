// A wide GraphQL body (a variable the query never reads, `[[],[],…]` to the body limit) cost the
// control plane ~2 s of event-loop CPU per request at 15 MiB, for a user token of any role: the
// body was parsed twice (the fast path, then yoga), and the user API took bodies as large as the
// agent's. Now /graphql bodies stop at maxUserBodyBytes (refused coded, naming it), every body
// is parsed once whichever path answers it, and the agent API's bodies get the nesting scan the
// user API's had. Parses are counted at JSON.parse itself, not timed. SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEFAULT_API_LIMITS, FIXED_INPUT_LIMITS } from '../../../src/control-plane/limits.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

interface Answer {
  status: number;
  body: { data?: unknown; errors?: { extensions: { code: string; data?: unknown } }[] };
}

const wide = (bytes: number) =>
  `[${Array(Math.floor(bytes / 3))
    .fill('[]')
    .join(',')}]`;

/** Counts the calls of JSON.parse on a string at least `minLength` long while `fn` runs. */
async function countingParses<T>(minLength: number, fn: () => Promise<T>): Promise<{ parses: number; result: T }> {
  const original = JSON.parse;
  let parses = 0;
  JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    if (typeof text === 'string' && text.length >= minLength) parses++;
    return original(text, reviver) as unknown;
  }) as typeof JSON.parse;
  try {
    const result = await fn();
    return { parses, result };
  } finally {
    JSON.parse = original;
  }
}

describeEachDialect('GraphQL body width and parses', (target) => {
  let h: Harness;
  let agentId: string;
  before(async () => {
    h = await openHarness(await target.freshUrl());
    const reg = await h.gql<{ registerAgent: { agentId: string } }>(
      'agent',
      'mutation { registerAgent(input: { name: "a", hostname: "h", version: "1", taskQueue: "q" }) { agentId } }',
    );
    agentId = reg.data!.registerAgent.agentId;
  });
  after(() => h.close());

  const post = async (api: 'user' | 'agent', body: string): Promise<Answer> => {
    const res = await h.handler(
      new Request(`http://127.0.0.1/${api === 'user' ? 'graphql' : 'agent/graphql'}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${api === 'user' ? h.userToken : h.agentToken}`,
        },
        body,
      }),
    );
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  };
  const withVariable = (query: string, x: string) => `{"query":${JSON.stringify(query)},"variables":{"x":${x}}}`;
  const userQuery = '{ agents { id } }';
  const agentQuery = () => `{ workspace(agentId: "${agentId}") { name } }`;

  test('a user-API body past maxUserBodyBytes is refused before it is parsed, naming the limit', async () => {
    const limit = DEFAULT_API_LIMITS.maxUserBodyBytes;
    const { parses, result } = await countingParses(limit, () => post('user', withVariable(userQuery, wide(limit))));
    assert.equal(result.status, 413);
    assert.equal(result.body.errors?.[0]?.extensions.code, 'OUTPOST_ERR_BODY_TOO_LARGE');
    assert.deepEqual(result.body.errors?.[0]?.extensions.data, { limit: 'maxUserBodyBytes', value: limit });
    assert.equal(parses, 0);
    // The agent API keeps maxBodyBytes.
    const agent = await post('agent', withVariable(agentQuery(), wide(limit)));
    assert.equal(agent.status, 200, JSON.stringify(agent.body.errors));
  });

  test('every body is parsed once, whether yoga or the fast path answers it', async () => {
    const size = 256 * 1024;
    for (const [api, query] of [
      ['user', userQuery],
      ['agent', agentQuery()],
    ] as const) {
      // The first time yoga answers (a document it has not validated), then the fast path does.
      for (const path of ['yoga', 'fast path']) {
        const { parses, result } = await countingParses(size, () => post(api, withVariable(query, wide(size))));
        assert.equal(result.status, 200, `${api} API, ${path}: ${JSON.stringify(result.body.errors)}`);
        assert.equal(parses, 1, `${api} API, ${path}`);
      }
      const { parses, result } = await countingParses(size, () => post(api, `${withVariable(query, wide(size))},`));
      assert.equal(result.status, 400, `${api} API, malformed`);
      assert.equal(result.body.errors?.[0]?.extensions.code, 'OUTPOST_ERR_BAD_REQUEST');
      assert.equal(parses, 1, `${api} API, malformed`);
    }
  });

  test('an agent-API body nested past maxBodyNesting is refused before it is parsed', async () => {
    const max = FIXED_INPUT_LIMITS.maxBodyNesting;
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const { parses, result } = await countingParses(100_000, () => post('agent', withVariable(agentQuery(), deep)));
    assert.equal(result.status, 400);
    assert.equal(result.body.errors?.[0]?.extensions.code, 'OUTPOST_ERR_JSON_TOO_DEEP');
    assert.deepEqual(result.body.errors?.[0]?.extensions.data, { limit: 'maxBodyNesting', value: max });
    assert.equal(parses, 0);
  });
});
