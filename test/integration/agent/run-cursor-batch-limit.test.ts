// The agent's runCursor batches (src/agent/run-cursor-batch.ts) against a control plane whose
// maxClaimBatch is below the agent's own batch size: the first batch refused as too large
// teaches the agent the limit (BATCH_TOO_LARGE names it), and from then on its batches fit,
// instead of every burst paying a refused batch and then one request per run.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';
import { workItemWorkflowId } from '../../../src/shared/workflow-contract.js';
import { SNAPSHOT } from '../../support/control-plane-harness.js';
import { graphqlCall, type Vars } from '../../support/graphql-call.js';

const LIMIT = 4;
const RUNS = 12;
let dir: string;
let cp: ControlPlane;
let relay: Server;
let relayUrl: string;
let agentToken = '';
let agentId = '';
const runIds: string[] = [];
/** Each request the relay forwarded: its first field and, for runCursors, how many ids. */
const forwarded: string[] = [];

function relayRequest(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const parsed = JSON.parse(body.toString() || '{}') as { query?: string; variables?: { runIds?: unknown[] } };
    const field = /\{\s*(\w+)\s*\(/.exec(parsed.query ?? '')?.[1] ?? '?';
    forwarded.push(field === 'runCursors' ? `runCursors:${parsed.variables?.runIds?.length}` : field);
    fetch(`${cp.url}${req.url}`, {
      method: req.method!,
      headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
      body,
    })
      .then(async (r) => {
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await r.arrayBuffer()));
      })
      .catch(() => req.socket.destroy());
  });
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
  relay = createServer(relayRequest);
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
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
  relay.closeAllConnections();
  await new Promise((r) => relay.close(r));
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
