// queryCodeLocation, testSchedule and testSensor wait for an agent's answer (up to a minute): a
// token revoked while its request waits must not be handed the answer that arrives afterwards.
// A real control plane on a socket, the agent's part played through the real agent API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHelloStack, type ScriptedStack } from '../../support/scripted-agent.js';
import { until } from '../../support/wait.js';

let s: ScriptedStack;

before(async () => {
  s = await startHelloStack();
});
after(async () => {
  await s.close();
});

test('a query whose token is revoked while it waits gets the coded refusal, not the answer', async () => {
  const created = await s.user<{ createToken: { id: string; token: string } }>(
    'mutation { createToken(kind: USER, name: "asker", role: LAUNCHER) { id token } }',
  );
  const asking = fetch(`${s.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${created.createToken.token}` },
    body: JSON.stringify({
      query:
        'mutation { queryCodeLocation(input: { location: "hello", job: "hello", query: PARTITION_NAMES }, waitMs: 30000) { status result } }',
    }),
  }).then(async (res) => (await res.json()) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> });
  // Queued means the request was authenticated and now waits for the agent.
  await until('the query is queued', async () => {
    const r = await s.user<{ workItems: unknown[] }>(
      'query { workItems(filter: { kind: QUERY_CODE_LOCATION, status: QUEUED }) { id } }',
    );
    return r.workItems.length ? true : undefined;
  });
  await s.user('mutation($id: ID!) { revokeToken(id: $id) { id } }', { id: created.createToken.id });
  const stop = s.answerQueries(() => ['secret-partition']);
  try {
    const body = await asking;
    assert.doesNotMatch(JSON.stringify(body), /secret-partition/, 'the revoked token got the answer');
    assert.equal(body.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNAUTHENTICATED');
  } finally {
    await stop();
  }
});

test("a refusal that arrives after the revocation is not handed over either (it carries user code's words)", async () => {
  const created = await s.user<{ createToken: { id: string; token: string } }>(
    'mutation { createToken(kind: USER, name: "asker-2", role: LAUNCHER) { id token } }',
  );
  const asking = fetch(`${s.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${created.createToken.token}` },
    body: JSON.stringify({
      query: 'mutation { testSensor(input: { location: "hello", name: "file_sensor" }) { skipReason } }',
    }),
  }).then(async (res) => (await res.json()) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> });
  const item = await until('the evaluation is queued', async () => {
    const r = await s.user<{ workItems: Array<{ id: string }> }>(
      'query { workItems(filter: { kind: EVALUATE_SENSOR, status: QUEUED }) { id } }',
    );
    return r.workItems[0];
  });
  await s.user('mutation($id: ID!) { revokeToken(id: $id) { id } }', { id: created.createToken.id });
  const { claimWork } = await s.agent<{ claimWork: Array<{ id: string }> }>(
    'mutation($a: ID!) { claimWork(agentId: $a, limit: 50, waitMs: 1000) { id } }',
    { a: s.agentId },
  );
  assert.ok(claimWork.some((w) => w.id === item.id));
  await s.agent(
    'mutation($a: ID!, $id: ID!, $e: WorkErrorInput!) { failWork(agentId: $a, id: $id, error: $e) { id } }',
    { a: s.agentId, id: item.id, e: { code: 'OUTPOST_ERR_INTERNAL', message: 'secret-from-user-code' } },
  );
  const body = await asking;
  assert.doesNotMatch(JSON.stringify(body), /secret-from-user-code/, 'the revoked token got the refusal');
  assert.equal(body.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNAUTHENTICATED');
});
