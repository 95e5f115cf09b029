// The agent's code-server manager under overlapping changes, with a real control plane, the
// agent's real client and real code servers (test/fixtures/user-code/slow-location):
// - a version whose first answers come late must not replace the newer version that loaded
//   meanwhile (it stopped the newer server and served the old code under the new version);
// - a workspace answer older than one already applied must not undo it (a refresh asked before
//   a location was deployed, answered after one asked later, removed the location's server).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { unary } from '../../../src/agent/code-server-client.js';
import { CodeServerManager } from '../../../src/agent/code-server-manager.js';
import { createControlPlaneClient, type ControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { type ControlPlane } from '../../../src/control-plane/index.js';
import type { GetDefinitionsResponse } from '../../../src/gen/outpost/codeserver/v1/code_server.js';
import { createLogger } from '../../../src/shared/logger.js';
import { until } from '../../support/wait.js';
import { startBareControlPlane, type BareControlPlane } from '../../support/bare-control-plane.js';

const MODULE = 'test/fixtures/user-code/slow-location/definitions.ts';
const logger = createLogger({ name: 'test', level: 'silent' });
let dir: string;
let cp: ControlPlane;
let bare: BareControlPlane | undefined;
let userToken: string;
let client: ControlPlaneClient;
let agentId: string;
const managers: CodeServerManager[] = [];

before(async () => {
  bare = await startBareControlPlane('cs-races', logger);
  ({ cp, dir } = bare);
  userToken = await cp.issueToken('user', 'u');
  client = createControlPlaneClient({ url: cp.url, token: await cp.issueToken('agent', 'a') });
  ({ agentId } = await client.registerAgent({ name: 'a', hostname: 'h', version: '0', taskQueue: 'q' }));
});
after(async () => {
  await Promise.all(managers.map((m) => m.stop()));
  await bare?.close();
});

async function deploy(name: string, env: Record<string, string>): Promise<number> {
  const res = await fetch(`${cp.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${userToken}` },
    body: JSON.stringify({
      query: `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
      variables: { i: { name, module: MODULE, env } },
    }),
  });
  const body = (await res.json()) as { data?: { deployCodeLocation: { version: number } }; errors?: unknown };
  assert.ok(body.data, JSON.stringify(body.errors));
  return body.data.deployCodeLocation.version;
}

const manager = (controlPlane: ControlPlaneClient): CodeServerManager => {
  const m = new CodeServerManager({ controlPlane, agentId: () => agentId, logger });
  managers.push(m);
  return m;
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const jobsServed = async (m: CodeServerManager, location: string): Promise<string[]> => {
  const { client: cs } = await m.client(location, 1_000);
  return (await unary<object, GetDefinitionsResponse>(cs, 'getDefinitions', {}, 10_000)).jobs.map((j) => j.name);
};

test('a version that answers late does not replace the newer version that loaded meanwhile', async () => {
  const mark = join(dir, 'v1-connected');
  const m = manager(client);
  await deploy('late', { SLOW_LOCATION_TAG: 'v1', SLOW_LOCATION_MARK: mark, SLOW_LOCATION_BLOCK_MS: '4000' });
  await m.refresh();
  // Version 1's server is up and the manager is waiting for its definitions.
  await until('version 1 asked for its definitions', () => existsSync(mark), 60_000, 50);
  const v1Pid = Number(readFileSync(mark, 'utf8').split('\n')[0]);
  const v2 = await deploy('late', { SLOW_LOCATION_TAG: 'v2' });
  await m.refresh();
  assert.deepEqual(await m.settled('late', v2, 60_000), { status: 'LOADED' });
  const { serverId } = await m.client('late', 1_000);
  assert.deepEqual(await jobsServed(m, 'late'), ['job_v2']);
  // Version 1 answers now: it is stopped, version 2 keeps serving.
  await until('version 1 answered', () => readFileSync(mark, 'utf8').includes('answering'), 30_000, 50);
  await until('version 1 stopped', () => !alive(v1Pid), 15_000, 50);
  assert.equal((await m.client('late', 1_000)).serverId, serverId);
  assert.deepEqual(await jobsServed(m, 'late'), ['job_v2']);
  assert.equal(m.spec('late')?.version, v2);
});

test('a workspace answer older than one applied does not remove what the newer one added', async () => {
  // The first answer is held until a later refresh has been answered and applied.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let calls = 0;
  let firstAnswered = false;
  const gated: ControlPlaneClient = {
    ...client,
    async workspace(id) {
      const first = ++calls === 1;
      const entries = await client.workspace(id);
      if (first) {
        firstAnswered = true;
        await held;
      }
      return entries;
    },
  };
  const m = manager(gated);
  const stale = m.refresh();
  await until('the first workspace answer taken', () => firstAnswered, 10_000, 10);
  const v = await deploy('added', { SLOW_LOCATION_TAG: 'added' });
  await m.refresh();
  assert.deepEqual(await m.settled('added', v, 60_000), { status: 'LOADED' });
  const { serverId } = await m.client('added', 1_000);
  release();
  await stale;
  assert.ok(
    m.statuses().some((s) => s.location === 'added'),
    'the location deployed after the stale answer was taken is still there',
  );
  assert.equal((await m.client('added', 1_000)).serverId, serverId);
});
