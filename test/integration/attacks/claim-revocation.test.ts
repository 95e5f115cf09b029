// claimWork long-polls up to a minute: an agent token revoked while its poll waits must not
// claim the work that arrives afterwards. The poll ends UNAUTHENTICATED, the item stays QUEUED
// for a live agent (not leased to a dead credential for a whole lease). A real control plane on
// a socket, the agents' part played through the real agent API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { graphqlCall } from '../../support/graphql-call.js';
import { startHelloStack, type ScriptedStack } from '../../support/scripted-agent.js';
import { until } from '../../support/wait.js';

let s: ScriptedStack;

before(async () => {
  s = await startHelloStack();
});
after(async () => {
  await s.close();
});

test('revoking an agent token ends its waiting claimWork: the launch that arrives next stays QUEUED', async () => {
  const created = await s.user<{ createToken: { id: string; token: string } }>(
    'mutation { createToken(kind: AGENT, name: "doomed") { id token } }',
  );
  const token = created.createToken.token;
  const reg = await graphqlCall<{ registerAgent: { agentId: string } }>(
    s.url,
    '/agent/graphql',
    token,
    'mutation { registerAgent(input: { name: "doomed", hostname: "h", version: "test", taskQueue: "outpost" }) { agentId } }',
  );
  // Nothing is queued: the poll waits (observed as a waiter on this replica, not guessed).
  const waitingBefore = s.cp.store.signals.waiting('work');
  const poll = fetch(`${s.url}/agent/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 30000) { id kind runId } }',
      variables: { a: reg.registerAgent.agentId },
    }),
  });
  await until('the claim waits', () => s.cp.store.signals.waiting('work') > waitingBefore);

  await s.user('mutation($id: ID!) { revokeToken(id: $id) { id } }', { id: created.createToken.id });
  const runId = await s.launch('hello');

  const res = await poll;
  const body = (await res.json()) as {
    data?: { claimWork: { runId: string | null }[] } | null;
    errors?: { extensions?: { code?: string } }[];
  };
  assert.deepEqual(body.data?.claimWork ?? [], [], 'the revoked token claimed work');
  assert.equal(body.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_UNAUTHENTICATED');
  const item = await s.user<{ workItems: { status: string; leaseOwner: string | null }[] }>(
    'query($r: ID!) { workItems(filter: { runId: $r, kind: LAUNCH_RUN }) { status leaseOwner } }',
    { r: runId },
  );
  assert.deepEqual(item.workItems, [{ status: 'QUEUED', leaseOwner: null }]);
});
