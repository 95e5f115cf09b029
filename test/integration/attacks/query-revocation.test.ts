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
