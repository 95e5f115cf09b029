// The agent's runCursor batches (src/agent/run-cursor-batch.ts) against a control plane whose
// maxClaimBatch is below the agent's own batch size: the first batch refused as too large
// teaches the agent the limit (BATCH_TOO_LARGE names it), and from then on its batches fit,
// instead of every burst paying a refused batch and then one request per run.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';
import { workItemWorkflowId } from '../../../src/shared/workflow-contract.js';
import { SNAPSHOT } from '../../support/control-plane-harness.js';
import { graphqlCall, type Vars } from '../../support/graphql-call.js';
import { firstField, startRelay, type Relay } from '../../support/relay.js';

const LIMIT = 4;
const RUNS = 12;
let dir: string;
let cp: ControlPlane;
let relay: Relay;
let relayUrl: string;
let agentToken = '';
let agentId = '';
const runIds: string[] = [];
/** Each request the relay forwarded: its first field and, for runCursors, how many ids. */
const forwarded: string[] = [];

/** Notes each operation's first field and, for runCursors, how many ids it asks for. */
function relayStep(_req: IncomingMessage, body: Buffer<ArrayBuffer>): Buffer<ArrayBuffer> {
  const field = firstField(body);
  const ids = (JSON.parse(body.toString() || '{}') as { variables?: { runIds?: unknown[] } }).variables?.runIds;
  forwarded.push(field === 'runCursors' ? `runCursors:${ids?.length}` : field);
  return body;
}

const asUser = <T>(token: string, query: string, variables: Vars = {}): Promise<T> =>
  graphqlCall<T>(cp.url, '/graphql', token, query, variables);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-cursor-limit-'));
  cp = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`,
    port: 0,
    logger: createLogger({ name: 'test', level: 'silent' }),
    daemon: false,
    web: false,
    limits: { maxClaimBatch: LIMIT },
  });
  const user = await cp.issueToken('user', 'admin');
  agentToken = await cp.issueToken('agent', 'a');
  relay = await startRelay(cp.url, relayStep);
  relayUrl = relay.url;
  const client = createControlPlaneClient({ url: cp.url, token: agentToken });
  agentId = (await client.registerAgent({ name: 'a', hostname: 'h', version: '0', taskQueue: 'q' })).agentId;
  const { deployCodeLocation } = await asUser<{ deployCodeLocation: { version: number } }>(
    user,
    `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
    { i: { name: 'hello', module: 'examples/hello/definitions.ts' } },
  );
  const [sync] = await client.claimWork(agentId, 1, 0);
  await client.ackWork(agentId, sync!.id, workItemWorkflowId(sync!.id));
  const loaded = { agentId, location: 'hello', version: deployCodeLocation.version, status: 'LOADED' as const };
  await client.reportCodeLocation({ ...loaded, snapshot: SNAPSHOT });
  for (let i = 0; i < RUNS; i++) {
    const launch = `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`;
    runIds.push((await asUser<{ launchRun: { id: string } }>(user, launch)).launchRun.id);
  }
  for (let got = 0; got < RUNS;) got += (await client.claimWork(agentId, LIMIT, 0)).length;
});
after(async () => {
  await relay.close();
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a batch refused as larger than maxClaimBatch: the agent batches within the limit from then on', async () => {
  const client = createControlPlaneClient({ url: relayUrl, token: agentToken });
  for (let round = 0; round < 2; round++) {
    forwarded.length = 0;
    const answers = await Promise.all(runIds.map((id) => client.runCursor(agentId, id)));
    assert.deepEqual(
      answers.map((a) => a.runId),
      runIds,
      'each caller its own run',
    );
    const sizes = forwarded.filter((f) => f.startsWith('runCursors:')).map((f) => Number(f.split(':')[1]));
    const singles = forwarded.filter((f) => f === 'runCursor').length;
    if (round === 1) {
      // Two go alone (fewer than two in flight), the other ten in batches of at most LIMIT.
      assert.ok(
        sizes.every((n) => n <= LIMIT),
        `round ${round}: batches within the limit: ${forwarded.join(', ')}`,
      );
      assert.equal(singles, 2, `round ${round}: ${forwarded.join(', ')}`);
    }
  }
});
