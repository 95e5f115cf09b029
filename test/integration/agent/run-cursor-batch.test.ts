// The agent's runCursor calls coalesce (src/agent/run-cursor-batch.ts): in a burst every claimed
// launch reads its run's cursor at once; the calls made while two are in flight go as one
// `runCursors` request, each caller still getting its own run's answer, or its own error. A real
// control plane on a socket behind a counting relay; the relay can also answer as a control plane
// from before `runCursors` (unknown field), which the agent then asks one run at a time.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, test } from 'node:test';
import { createControlPlaneClient, type ControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { type ControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';
import { workItemWorkflowId } from '../../../src/shared/workflow-contract.js';
import { SNAPSHOT } from '../../support/control-plane-harness.js';
import { graphqlCall, type Vars } from '../../support/graphql-call.js';
import { firstField, startRelay, type Relay } from '../../support/relay.js';
import { startBareControlPlane, type BareControlPlane } from '../../support/bare-control-plane.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const RUNS = 12;
let cp: ControlPlane;
let bare: BareControlPlane | undefined;
let relay: Relay;
let relayUrl: string;
const tok = { user: '', agent: '', b: '' };
let agentId = '';
const runIds: string[] = [];
/** GraphQL operations the relay forwarded to /agent/graphql, by first field. */
const forwarded: string[] = [];
let beforeRunCursors = false;

/** Notes each operation's first field; before runCursors, asks for a field no schema has. */
function relayStep(_req: IncomingMessage, body: Buffer<ArrayBuffer>): Buffer<ArrayBuffer> {
  const field = firstField(body);
  forwarded.push(field);
  // The real control plane asked for a field its schema does not have: its own answer (the
  // public error shape, code BAD_REQUEST), as a control plane from before runCursors.
  if (beforeRunCursors && field === 'runCursors')
    return Buffer.from(body.toString().replace(/runCursors\(/g, 'runCursorsNotHere('));
  return body;
}

const gql = <T>(path: string, token: string, query: string, variables: Vars = {}): Promise<T> =>
  graphqlCall<T>(cp.url, path, token, query, variables);

before(async () => {
  bare = await startBareControlPlane('cursor-batch', logger, {
    // Low enough that the cost of ids, counted per id, shows (the last test).
    limits: { maxQueryCost: 2000 },
  });
  ({ cp } = bare);
  tok.user = await cp.issueToken('user', 'admin');
  tok.agent = await cp.issueToken('agent', 'a');
  tok.b = await cp.issueToken('agent', 'b');
  relay = await startRelay(cp.url, relayStep);
  relayUrl = relay.url;
  // The agent syncs `hello`, then claims RUNS launches of it: their cursors are its to read.
  const client = createControlPlaneClient({ url: cp.url, token: tok.agent });
  agentId = (await client.registerAgent({ name: 'a', hostname: 'h', version: '0', taskQueue: 'q' })).agentId;
  const { deployCodeLocation } = await gql<{ deployCodeLocation: { version: number } }>(
    '/graphql',
    tok.user,
    `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
    { i: { name: 'hello', module: 'examples/hello/definitions.ts' } },
  );
  const [sync] = await client.claimWork(agentId, 1, 0);
  await client.ackWork(agentId, sync!.id, workItemWorkflowId(sync!.id));
  const loaded = { agentId, location: 'hello', version: deployCodeLocation.version, status: 'LOADED' as const };
  await client.reportCodeLocation({ ...loaded, snapshot: SNAPSHOT });
  for (let i = 0; i < RUNS; i++) {
    const launch = `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`;
    runIds.push((await gql<{ launchRun: { id: string } }>('/graphql', tok.user, launch)).launchRun.id);
  }
  const claimed = await client.claimWork(agentId, RUNS, 0);
  assert.deepEqual(claimed.map((c) => c.runId).sort(), [...runIds].sort());
});
after(async () => {
  await relay.close();
  await bare?.close();
});

/** Every run's cursor asked for at once; each answer must be its own run's. */
async function allAtOnce(client: ControlPlaneClient, ids: string[]) {
  return Promise.allSettled(ids.map((id) => client.runCursor(agentId, id)));
}

test('cursors asked for together go as one request after the first two, each answer its own run', async () => {
  const client = createControlPlaneClient({ url: relayUrl, token: tok.agent });
  forwarded.length = 0;
  const answers = await allAtOnce(client, runIds);
  answers.forEach((a, i) => {
    assert.equal(a.status, 'fulfilled');
    if (a.status === 'fulfilled')
      assert.deepEqual([a.value.runId, a.value.status, a.value.lastSeq], [runIds[i], 'QUEUED', 0]);
  });
  // The first two go alone (fewer than two were in flight); the others wait and go together.
  assert.deepEqual(
    [...forwarded].sort(),
    ['runCursor', 'runCursor', 'runCursors'],
    `requests: ${forwarded.join(', ')}`,
  );
  // One call alone goes at once, as a single runCursor.
  forwarded.length = 0;
  assert.equal((await client.runCursor(agentId, runIds[0]!)).runId, runIds[0]);
  assert.deepEqual(forwarded, ['runCursor']);
});

test('in a batch, a run the agent may not read fails only its own caller, with its own code', async () => {
  const client = createControlPlaneClient({ url: relayUrl, token: tok.agent });
  const ids = [...runIds.slice(0, 4), 'run_nope', ...runIds.slice(4, 8)];
  const answers = await allAtOnce(client, ids);
  answers.forEach((a, i) => {
    if (ids[i] === 'run_nope') {
      assert.equal(a.status, 'rejected');
      if (a.status === 'rejected') assert.equal((a.reason as { code?: string }).code, 'OUTPOST_ERR_UNKNOWN_RUN');
    } else {
      assert.equal(a.status, 'fulfilled');
      if (a.status === 'fulfilled') assert.equal(a.value.runId, ids[i]);
    }
  });
  // Another agent's client cannot read them, batched or not.
  const b = createControlPlaneClient({ url: relayUrl, token: tok.b });
  const bId = (await b.registerAgent({ name: 'b', hostname: 'h', version: '0', taskQueue: 'qb' })).agentId;
  const refused = await Promise.allSettled(runIds.slice(0, 3).map((id) => b.runCursor(bId, id)));
  for (const r of refused) {
    assert.equal(r.status, 'rejected');
    if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'OUTPOST_ERR_RUN_NOT_OWNED');
  }
});

test('the control plane refuses more ids than a claim hands out', async () => {
  const ids = Array.from({ length: 101 }, () => runIds[0]!);
  const r = await fetch(`${cp.url}/agent/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tok.agent}` },
    body: JSON.stringify({
      query: `query($a: ID!, $r: [ID!]!) { runCursors(agentId: $a, runIds: $r) { runId } }`,
      variables: { a: agentId, r: ids },
    }),
  });
  const body = (await r.json()) as { errors?: { extensions?: { code?: string } }[] };
  assert.equal(body.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_BATCH_TOO_LARGE');
});

test('a control plane from before runCursors: asked once, then one run at a time', async () => {
  beforeRunCursors = true;
  try {
    const client = createControlPlaneClient({ url: relayUrl, token: tok.agent });
    for (let round = 0; round < 2; round++) {
      forwarded.length = 0;
      const answers = await allAtOnce(client, runIds.slice(0, 5));
      answers.forEach((a, i) => assert.equal(a.status === 'fulfilled' && a.value.runId, runIds[i]));
      const batches = forwarded.filter((f) => f === 'runCursors').length;
      assert.equal(batches, round === 0 ? 1 : 0, `round ${round}: ${forwarded.join(', ')}`);
    }
  } finally {
    beforeRunCursors = false;
  }
});

test('aliases of runCursors cost what they resolve: each id counts, not a list of 10', async () => {
  // 10 aliases of 100 ids resolve 1,000 cursors (2,000 fields): over a cost of 2,000. Counted as
  // lists of 10 (210) they ran: 100 ids an alias at a tenth of their cost, past any cost limit.
  const ids = Array.from({ length: 100 }, () => runIds[0]!);
  const aliases = Array.from({ length: 10 }, (_, i) => `a${i}: runCursors(agentId: $a, runIds: $r) { runId lastSeq }`);
  const r = await fetch(`${cp.url}/agent/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tok.agent}` },
    body: JSON.stringify({
      query: `query($a: ID!, $r: [ID!]!) { ${aliases.join(' ')} }`,
      variables: { a: agentId, r: ids },
    }),
  });
  const body = (await r.json()) as { errors?: { extensions?: { code?: string } }[] };
  assert.equal(body.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_QUERY_TOO_COSTLY', JSON.stringify(body).slice(0, 300));
});
