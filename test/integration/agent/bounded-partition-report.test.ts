// An agent's report of a location with 100,000 static keys (test/fixtures/user-code/big-partitions):
// to this control plane it sends the set's first MAX_SNAPSHOT_PARTITION_KEYS keys and its count
// (keysBounded), not ~1.4 MB of keys, and the keys past them are still searched in the location;
// to a real control plane from before keysBounded (OLD_CONTROL_PLANE_COMMIT, from before keyCount
// too) it sends the set whole after that control plane refuses the field, so a key past the first
// 1,000 still launches there and succeeds.
// Before the bound (main at d914214): each LOADED report of this location was ~1.4 MB.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { loadAgentConfig } from '../../../src/agent/config.js';
import { startOutpostAgent } from '../../../src/cli/agent-root.js';
import { createLogger } from '../../../src/shared/logger.js';
import {
  extractRelease,
  releaseSkip,
  startReleaseControlPlane,
  type ReleaseControlPlane,
} from '../../support/old-release.js';
import { AgentProcess } from '../../support/outpost-processes.js';
import { stopGracefully } from '../../support/process.js';
import { firstField, startRelay, type Relay } from '../../support/relay.js';
import { startStack, type Stack } from '../../support/stack.js';
import { testTemporal, uniqueTaskQueue } from '../../support/temporal.js';
import { until } from '../../support/wait.js';

const t = await testTemporal();
const BIG = resolve(import.meta.dirname, '..', '..', 'fixtures', 'user-code', 'big-partitions', 'definitions.ts');
/** Far above 1,000 keys and the rest of this location's snapshot; far below 100,000 keys. */
const BOUNDED = 64 * 1024;

describe("an agent's report of 100,000 static keys to this control plane", { timeout: 300_000 }, () => {
  let stack: Stack;
  let relay: Relay;
  let agent: RunningAgent | undefined;
  /** Bytes of each reportCodeLocation request the agent sent with a snapshot. */
  const reports: number[] = [];

  before(async () => {
    stack = await startStack({ temporalAddress: t.address, storeLimits: { locationQueryWaitMs: 60_000 } });
    relay = await startRelay(stack.cp.url, (_req, body) => {
      if (body.length && firstField(body) === 'reportCodeLocation' && body.includes('"snapshot":{')) {
        reports.push(body.length);
      }
      return body;
    });
    const config = loadAgentConfig(
      {
        url: relay.url,
        temporalAddress: t.address,
        taskQueue: uniqueTaskQueue('bounded'),
        dataDir: join(stack.dataDir, 'agent'),
      },
      {},
    );
    agent = await startOutpostAgent({
      config,
      token: stack.agentToken,
      logger: createLogger({ name: 'agent', level: 'warn' }),
    });
    await stack.deploy('big', BIG);
  });
  after(async () => {
    await agent?.stop();
    await relay?.close();
    await stack?.close();
  });

  test('the report holds the first keys and the count; the rest are searched in the location', async () => {
    assert.ok(reports.length >= 1, 'the agent reported the loaded location');
    console.log(`# measured: reportCodeLocation bodies with a snapshot ${reports.join(', ')} B`);
    assert.ok(Math.max(...reports) < BOUNDED, `reportCodeLocation bodies: ${reports.join(', ')} B`);
    const { codeLocation } = await stack.gql<{
      codeLocation: { status: string; partitions: Array<{ keys: string[]; keyCount: number }> };
    }>(`{ codeLocation(name: "big") { status partitions { keys keyCount } } }`);
    assert.equal(codeLocation.status, 'LOADED');
    assert.equal(codeLocation.partitions[0]?.keyCount, 100_000);
    assert.equal(codeLocation.partitions[0]?.keys.length, 1000);
    const { partitionKeys } = await stack.gql<{ partitionKeys: { keys: string[]; total: number } }>(
      `{ partitionKeys(location: "big", job: "shard", search: "k09999", first: 2) { keys total } }`,
    );
    assert.deepEqual(partitionKeys, { keys: ['k099990', 'k099991'], total: 10 });
  });
});

/** main before keysBounded and keyCount: its control plane stores and checks the keys it is sent. */
const OLD_CONTROL_PLANE_COMMIT = 'aad79cbb2de4d6e2afc4975962ca4c1d2ffb1652';
const skipOld = releaseSkip(OLD_CONTROL_PLANE_COMMIT, 'bounded-report old control plane');

describe('this agent under a control plane from before keysBounded', { skip: skipOld, timeout: 400_000 }, () => {
  let oldTree: string;
  let dir: string;
  let cp: ReleaseControlPlane | undefined;
  let agent: AgentProcess | undefined;
  const agentLog = (): string => readFileSync(join(dir, 'agent.log'), 'utf8');
  const gql = <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => cp!.gql<T>(query, variables);

  before(async () => {
    oldTree = extractRelease(OLD_CONTROL_PLANE_COMMIT, 'outpost-old-cp-');
    dir = mkdtempSync(join(tmpdir(), 'outpost-old-cp-data-'));
    cp = await startReleaseControlPlane(oldTree, dir);
    const { createToken } = await gql<{ createToken: { token: string } }>(
      `mutation { createToken(kind: AGENT, name: "new-agent") { token } }`,
    );
    const tokenFile = join(dir, 'agent.token');
    writeFileSync(tokenFile, `${createToken.token}\n`, { mode: 0o600 });
    agent = new AgentProcess({
      url: () => cp!.url,
      tokenFile,
      temporalAddress: t.address,
      taskQueue: `old-cp-bounded-${process.pid}`,
      dataDir: join(dir, 'agent'),
      logFile: join(dir, 'agent.log'),
    });
    await agent.start();
    const dep = await gql<{ deployCodeLocation: { version: number } }>(
      `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { version } }`,
      { input: { name: 'big', module: BIG } },
    );
    const loaded = await until(
      'big loaded by the agent',
      async () => {
        const { codeLocation: s } = await gql<{ codeLocation: { status: string; version: number } }>(
          `query { codeLocation(name: "big") { status version } }`,
        );
        return s.version === dep.deployCodeLocation.version && s.status !== 'LOADING' ? s : undefined;
      },
      180_000,
    );
    assert.equal(loaded.status, 'LOADED', agentLog().slice(-4000));
  });
  after(async () => {
    await agent?.stop();
    await stopGracefully(cp?.child);
    if (oldTree) rmSync(oldTree, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the refused keysBounded report is sent again whole: a key past the first 1,000 launches and succeeds', async () => {
    assert.match(agentLog(), /older than keysBounded/);
    const { launchRun } = await gql<{ launchRun: { id: string } }>(
      `mutation { launchRun(input: { location: "big", job: "shard", partitionKey: "k099999" }) { id } }`,
    );
    const done = await until(
      `run ${launchRun.id} finished`,
      async () => {
        const { run } = await gql<{ run: { status: string } }>(`query($id: ID!) { run(id: $id) { status } }`, {
          id: launchRun.id,
        });
        return ['SUCCESS', 'FAILURE', 'CANCELED'].includes(run.status) ? run : undefined;
      },
      120_000,
      250,
    );
    assert.equal(done.status, 'SUCCESS', agentLog().slice(-4000));
  });
});
