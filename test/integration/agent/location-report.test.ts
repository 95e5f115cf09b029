// A location report is accepted only from the deployment holding the version's
// SYNC_CODE_LOCATION item. An agent's code server can load before its poller's claim lands (the
// agent reconciles its workspace at start, before polling): the refused LOADED report must be
// sent again once the claim lands, or the location would stay LOADING for good. Real control
// plane on a socket, the agent's real client and code-server manager, a real code server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CodeServerManager } from '../../../src/agent/code-server-manager.js';
import { createControlPlaneClient, type ControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { type ControlPlane } from '../../../src/control-plane/index.js';
import { getLocation } from '../../../src/control-plane/store/locations.js';
import { createLogger } from '../../../src/shared/logger.js';
import { until } from '../../support/wait.js';
import { startBareControlPlane, type BareControlPlane } from '../../support/bare-control-plane.js';

const logger = createLogger({ name: 'test', level: 'silent' });
let cp: ControlPlane;
let bare: BareControlPlane | undefined;
let client: ControlPlaneClient;
let manager: CodeServerManager | undefined;

before(async () => {
  bare = await startBareControlPlane('report', logger);
  ({ cp } = bare);
  client = createControlPlaneClient({ url: cp.url, token: await cp.issueToken('agent', 'a') });
});
after(async () => {
  await manager?.stop();
  await bare?.close();
});

test('a LOADED report refused before the SYNC claim is sent again once the claim lands', async () => {
  const user = await cp.issueToken('user', 'u');
  const deployed = await fetch(`${cp.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${user}` },
    body: JSON.stringify({
      query: `mutation { deployCodeLocation(input: { name: "hello", module: "examples/hello/definitions.ts" }) { version } }`,
    }),
  });
  assert.equal(deployed.status, 200);
  const { agentId } = await client.registerAgent({ name: 'a', hostname: 'h', version: '0', taskQueue: 'q' });
  manager = new CodeServerManager({ controlPlane: client, agentId: () => agentId, logger });
  await manager.refresh();
  const local = await manager.settled('hello', 1, 120_000);
  assert.equal(local.status, 'LOADED');
  // Nobody holds the sync yet: the agent's own reports were refused.
  assert.equal((await getLocation(cp.store.db, 'hello'))?.status, 'LOADING');
  await assert.rejects(
    client.reportCodeLocation({ agentId, location: 'hello', version: 1, status: 'ERROR', error: 'x' }),
    (e: Error & { code?: string }) => e.code === 'OUTPOST_ERR_LOCATION_NOT_OWNED',
  );
  const claimed = await client.claimWork(agentId, 1, 0);
  assert.deepEqual(
    claimed.map((i) => i.kind),
    ['SYNC_CODE_LOCATION'],
  );
  await until(
    'the re-sent LOADED report lands',
    async () => (await getLocation(cp.store.db, 'hello'))?.status === 'LOADED',
    15_000,
    100,
  );
  const jobs = (await getLocation(cp.store.db, 'hello'))?.snapshot?.jobs.map((j) => j.name) ?? [];
  assert.ok(jobs.includes('hello') && jobs.includes('sleepy'), `the snapshot came with the report: ${jobs.join(', ')}`);
});
