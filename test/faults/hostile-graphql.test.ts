// 1,000 malformed or hostile requests against a real control plane (HTTP on a port, SQLite file):
// broken JSON, fuzzed variable types, huge strings, deep nesting, bad tokens, and agent calls
// replayed by the wrong agent. Checks: the server stays up, every answer is a 4xx or carries a
// GraphQL error, and every table's row count and every run/work item's state is unchanged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../src/control-plane/index.js';
import { createRun } from '../../src/control-plane/services/runs-service.js';
import { createLogger } from '../../src/shared/logger.js';
import { STORE_TABLES } from '../../src/control-plane/store/schema.js';

const TOTAL = 1_000;

/** Deterministic PRNG (mulberry32), so a failing request can be reproduced from its index. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function snapshot(cp: ControlPlane): Promise<string> {
  const db = cp.store.db;
  const counts: Record<string, number> = {};
  for (const t of STORE_TABLES) {
    const r = await db
      .selectFrom(t)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    counts[t] = Number(r.n);
  }
  const items = await db
    .selectFrom('work_items')
    .select(['id', 'status', 'lease_owner', 'attempts', 'workflow_id', 'result', 'error'])
    .orderBy('id')
    .execute();
  const runs = await db
    .selectFrom('runs')
    .select(['id', 'status', 'agent_id', 'last_seq', 'stdout_bytes'])
    .orderBy('id')
    .execute();
  const tokens = await db.selectFrom('tokens').select(['id', 'revoked_at']).orderBy('id').execute();
  return JSON.stringify({ counts, items, runs, tokens });
}

const WRONG_AGENT = 'replayed agent call from the wrong agent';

test('1,000 hostile GraphQL requests: server stays up, every answer an error, database unchanged', async () => {
  await hostileRun('others', TOTAL);
});

test('agent calls replayed by the wrong agent are refused and change nothing', async () => {
  await hostileRun('wrong-agent', 65);
});

async function hostileRun(only: 'others' | 'wrong-agent', total: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-faults-gql-'));
  const cp = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'cp.db')}`,
    port: 0,
    daemon: false,
    web: false,
    logger: createLogger({ name: 'faults', level: 'silent' }),
  });
  try {
    const userToken = await cp.issueToken('user', 'faults-user');
    const tokenA = await cp.issueToken('agent', 'agent-a');
    const tokenB = await cp.issueToken('agent', 'agent-b');
    const post = async (
      path: string,
      token: string | undefined,
      body: string,
      contentType = 'application/json',
    ): Promise<{ status: number; json: unknown }> => {
      const res = await fetch(`${cp.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': contentType, ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
        body,
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.status, json };
    };
    const agentCall = async (
      token: string,
      query: string,
      variables: Record<string, unknown>,
    ): Promise<Record<string, unknown>> => {
      const r = await post('/agent/graphql', token, JSON.stringify({ query, variables }));
      const body = r.json as { data?: Record<string, unknown>; errors?: unknown[] };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data!;
    };
    const register = `mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agentId } }`;
    const agentA = (
      (await agentCall(tokenA, register, { i: { name: 'a', hostname: 'h', version: '0', taskQueue: 'q' } }))
        .registerAgent as { agentId: string }
    ).agentId;
    const agentB = (
      (await agentCall(tokenB, register, { i: { name: 'b', hostname: 'h', version: '0', taskQueue: 'q' } }))
        .registerAgent as { agentId: string }
    ).agentId;
    // Two runs whose LAUNCH_RUN items agent A claims: B will try to ack, complete and fail them.
    for (let i = 0; i < 2; i++) {
      await cp.store.transaction((trx) =>
        createRun(trx, cp.store, { location: 'hello', job: 'noop', runConfig: {}, tags: {} }),
      );
    }
    const claimed = (
      await agentCall(tokenA, `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { id runId } }`, {
        a: agentA,
      })
    ).claimWork as Array<{ id: string; runId: string }>;
    assert.equal(claimed.length, 2);
    const runIds = claimed.map((c) => c.runId);

    const before = await snapshot(cp);
    const r = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const huge = (n: number): string => 'x'.repeat(n);
    const fuzzValues: unknown[] = [
      null,
      0,
      -1,
      1.5,
      1e308,
      true,
      'x',
      huge(100_000),
      [],
      [1, 2],
      {},
      { a: { b: { c: 1 } } },
      '"; DROP TABLE runs; --',
      '\u0000\uffff',
      '__proto__',
    ];
    const nested = (d: number): string =>
      `query { ${'runs { edges { node { '.repeat(1)}${'id '}${'} } } '.repeat(1)} ${'__schema { types { fields { type { ofType { '.repeat(d)} name ${'} } } } } '.repeat(d)} }`;
    const deepJson = (d: number): string => '{"v":'.repeat(d) + '1' + '}'.repeat(d);
    const kinds: Array<{ name: string; make: () => Promise<{ status: number; json: unknown }> }> = [
      {
        name: 'broken JSON',
        make: () =>
          post('/graphql', userToken, pick(['{', '{"query":', 'null', '[]', '"query"', '{"query": 5}', huge(10_000)])),
      },
      {
        name: 'wrong content type',
        make: () =>
          post(
            '/graphql',
            userToken,
            'query { runs { edges { node { id } } } }',
            pick(['text/plain', 'application/xml', 'multipart/form-data']),
          ),
      },
      {
        name: 'syntax error',
        make: () =>
          post(
            '/graphql',
            userToken,
            JSON.stringify({
              query: pick(['{ runs {', 'mutation { launchRun(', '}}}}', 'query q($x: ) { a }', huge(50_000)]),
            }),
          ),
      },
      {
        name: 'fuzzed launchRun input',
        make: () =>
          post(
            '/graphql',
            userToken,
            JSON.stringify({
              query: `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }`,
              variables: {
                i: {
                  location: pick(fuzzValues),
                  job: pick(fuzzValues),
                  runConfig: pick(fuzzValues),
                  tags: pick(fuzzValues),
                },
              },
            }),
          ),
      },
      {
        name: 'fuzzed deploy input',
        make: () =>
          post(
            '/graphql',
            userToken,
            JSON.stringify({
              query: `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { name } }`,
              // No module and no command, or both wrongly typed: never a valid spec.
              variables: {
                i: { name: pick([null, 1, [], {}]), module: pick([1, [], {}, true]), command: pick([1, 'x', {}]) },
              },
            }),
          ),
      },
      {
        name: 'huge string argument',
        make: () =>
          post(
            '/graphql',
            userToken,
            JSON.stringify({
              query: `mutation($l: String!) { launchRun(input: { location: $l, job: "noop" }) { id } }`,
              variables: { l: huge(pick([1_000_000, 4_000_000, 20_000_000])) },
            }),
          ),
      },
      {
        name: 'deep nesting (selection)',
        make: () => post('/graphql', userToken, JSON.stringify({ query: nested(pick([20, 40, 200])) })),
      },
      {
        name: 'deep nesting (JSON variable)',
        make: () =>
          post(
            '/graphql',
            userToken,
            // Built as text: JSON.stringify itself overflows the stack at this depth.
            `{"query": ${JSON.stringify('mutation($c: JSON) { launchRun(input: { location: "nope", job: "nope", runConfig: $c }) { id } }')}, "variables": {"c": ${deepJson(pick([100, 1000, 100_000]))}}}`,
          ),
      },
      {
        name: 'unknown field / type',
        make: () =>
          post(
            '/graphql',
            userToken,
            JSON.stringify({
              query: pick([
                '{ nope }',
                '{ runs { edges { node { secret } } } }',
                'mutation { dropEverything }',
                '{ __type(name: 1) { name } }',
              ]),
            }),
          ),
      },
      {
        name: 'bad token (user API)',
        make: () =>
          post(
            '/graphql',
            pick([undefined, '', 'garbage', huge(5_000), tokenA, userToken.slice(0, -1) + 'x', 'Bearer ' + userToken]),
            JSON.stringify({ query: `mutation { createToken(kind: USER, name: "evil") { token } }` }),
          ),
      },
      {
        name: 'bad token (agent API)',
        make: () =>
          post(
            '/agent/graphql',
            pick([undefined, 'garbage', userToken, tokenA.slice(0, -1) + 'y']),
            JSON.stringify({
              query: `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { id } }`,
              variables: { a: agentA },
            }),
          ),
      },
      {
        name: 'replayed agent call from the wrong agent',
        make: () => {
          const item = pick(claimed);
          const calls = [
            {
              q: `mutation($a: ID!, $i: ID!) { ackWork(agentId: $a, id: $i, workflowId: "run-evil") { id } }`,
              v: { a: agentB, i: item.id },
            },
            {
              q: `mutation($a: ID!, $i: ID!) { completeWork(agentId: $a, id: $i, result: {ok: true}) { id } }`,
              v: { a: agentB, i: item.id },
            },
            {
              q: `mutation($a: ID!, $i: ID!) { failWork(agentId: $a, id: $i, error: {code: "X", message: "evil"}) { id } }`,
              v: { a: agentB, i: item.id },
            },
            {
              q: `mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r) }`,
              v: { a: agentB, r: item.runId },
            },
            // B's token presenting A's agent id.
            {
              q: `mutation($a: ID!, $i: ID!) { completeWork(agentId: $a, id: $i, result: {ok: true}) { id } }`,
              v: { a: agentA, i: item.id },
            },
          ];
          const c = pick(calls);
          return post('/agent/graphql', tokenB, JSON.stringify({ query: c.q, variables: c.v }));
        },
      },
      {
        name: 'fuzzed agent input',
        make: () =>
          post(
            '/agent/graphql',
            tokenA,
            JSON.stringify({
              query: `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { highestContiguousSeq } }`,
              variables: {
                a: agentA,
                r: pick([...runIds, 'run_nope', 1]),
                e: pick([
                  [{ seq: pick([0, -1, 1.5, 'a']), type: 'LOG', timestamp: 1 }],
                  [{ seq: 1, type: 'NOPE', timestamp: 1 }],
                  [{ seq: 1 }],
                  'x',
                  [null],
                ]),
              },
            }),
          ),
      },
      {
        // The raw-body agent endpoints: malformed NDJSON, bad parameters, wrong types.
        name: 'fuzzed raw agent input',
        make: () => {
          const runId = pick([...runIds, 'run_nope']);
          if (r() < 0.6) {
            const q = new URLSearchParams({ agentId: pick([agentA, 'agent_nope']), runId });
            const body = pick([
              '{not json',
              '[1]',
              '{"seq":0,"type":"LOG","timestamp":1}',
              '{"seq":1,"type":"NOPE","timestamp":1}',
              '{"seq":1}',
              '{"seq":1.5,"type":"LOG","timestamp":1}',
              '\u0000\u0001',
              '{"seq":1,"type":"LOG","timestamp":1}\n' + huge(300),
              `{"seq":1,"type":"LOG","timestamp":1,"data":${'['.repeat(5000)}${']'.repeat(5000)}}`,
            ]);
            return post(`/agent/events?${q}`, tokenA, body, pick(['application/x-ndjson', 'application/json']));
          }
          const q = new URLSearchParams({
            agentId: agentA,
            runId,
            stream: pick(['stdout', 'stdin', '']),
            offset: pick(['-1', 'x', '1e3', '']),
          });
          return post(`/agent/logs?${q}`, tokenA, huge(64), pick(['application/octet-stream', 'text/plain']));
        },
      },
    ];
    const byKind = new Map<string, { n: number; statuses: Set<number> }>();
    const bad: string[] = [];
    const chosen = kinds.filter((k) => (only === 'wrong-agent') === (k.name === WRONG_AGENT));
    for (let i = 0; i < total; i++) {
      const kind = chosen[i % chosen.length]!;
      const res = await kind.make();
      const entry = byKind.get(kind.name) ?? { n: 0, statuses: new Set() };
      entry.n++;
      entry.statuses.add(res.status);
      byKind.set(kind.name, entry);
      const isError =
        (res.status >= 400 && res.status < 500) ||
        (typeof res.json === 'object' &&
          res.json !== null &&
          Array.isArray((res.json as { errors?: unknown }).errors) &&
          (res.json as { errors: unknown[] }).errors.length > 0);
      if (!isError || res.status >= 500)
        bad.push(`#${i} ${kind.name}: HTTP ${res.status} ${JSON.stringify(res.json).slice(0, 200)}`);
    }
    for (const [name, e] of byKind)
      console.log(`hostile graphql: ${e.n} × ${name} → HTTP ${[...e.statuses].sort().join('/')}`);
    const health = await fetch(`${cp.url}/healthz`);
    console.log(
      `hostile graphql: after ${total} requests /healthz → ${health.status}; ${bad.length} requests not answered with a 4xx or a GraphQL error`,
    );
    assert.equal(health.status, 200, 'server still up');
    const unchanged = (await snapshot(cp)) === before;
    assert.deepEqual(bad, [], 'every answer is a 4xx or a GraphQL error, never a 5xx or a success');
    assert.ok(unchanged, 'row counts and run/work-item/token state unchanged');
  } finally {
    await cp.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
