// An agent upgraded before its control plane: this repository's agent against a real control
// plane from before WorkItem.runCursor (OLD_CONTROL_PLANE_COMMIT, run from its own sources). The
// agent's claims ask for each launch's run cursor; the old schema refuses that document, so the
// agent claims as before (and its launches ask runCursor themselves). Before the fallback every
// claim failed validation and no run was ever launched.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testTemporal } from '../../support/temporal.js';
import { stopGracefully } from '../../support/process.js';
import { AgentProcess } from '../../support/outpost-processes.js';
import {
  extractRelease,
  releaseSkip,
  startReleaseControlPlane,
  type ReleaseControlPlane,
} from '../../support/old-release.js';
import { until } from '../../support/wait.js';

/** The last commit before WorkItem.runCursor: its control plane answers claims without cursors. */
const OLD_CONTROL_PLANE_COMMIT = 'aad79cbb2de4d6e2afc4975962ca4c1d2ffb1652';
const ROOT = resolve(import.meta.dirname, '..', '..', '..');

const skip = releaseSkip(OLD_CONTROL_PLANE_COMMIT, 'old-control-plane');

describe('this agent under a control plane from before WorkItem.runCursor', { skip, timeout: 400_000 }, () => {
  let oldTree: string;
  let dir: string;
  let cp: ReleaseControlPlane | undefined;
  let agent: AgentProcess | undefined;
  const agentLog = (): string => readFileSync(join(dir, 'agent.log'), 'utf8');
  const gql = <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => cp!.gql<T>(query, variables);

  before(async () => {
    oldTree = extractRelease(OLD_CONTROL_PLANE_COMMIT, 'outpost-old-cp-');
    dir = mkdtempSync(join(tmpdir(), 'outpost-old-cp-data-'));
    const temporal = await testTemporal();
    cp = await startReleaseControlPlane(oldTree, dir);
    const { createToken } = await gql<{ createToken: { token: string } }>(
      `mutation { createToken(kind: AGENT, name: "new-agent") { token } }`,
    );
    const tokenFile = join(dir, 'agent.token');
    writeFileSync(tokenFile, `${createToken.token}\n`, { mode: 0o600 });
    agent = new AgentProcess({
      url: () => cp!.url,
      tokenFile,
      temporalAddress: temporal.address,
      taskQueue: `old-cp-${process.pid}`,
      dataDir: join(dir, 'agent'),
      logFile: join(dir, 'agent.log'),
    });
    await agent.start();
    const dep = await gql<{ deployCodeLocation: { version: number } }>(
      `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { version } }`,
      { input: { name: 'hello', module: join(ROOT, 'examples', 'hello', 'definitions.ts') } },
    );
    const loaded = await until(
      'hello loaded by the agent',
      async () => {
        const { codeLocation: s } = await gql<{ codeLocation: { status: string; version: number } }>(
          `query { codeLocation(name: "hello") { status version } }`,
        );
        return s.version === dep.deployCodeLocation.version && s.status !== 'LOADING' ? s : undefined;
      },
      120_000,
    );
    assert.equal(loaded.status, 'LOADED');
  });
  after(async () => {
    await agent?.stop();
    await stopGracefully(cp?.child);
    if (oldTree) rmSync(oldTree, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('runs launch and succeed: the claim falls back to the document the old schema knows', async () => {
    for (let i = 0; i < 2; i++) {
      const { launchRun } = await gql<{ launchRun: { id: string } }>(
        `mutation { launchRun(input: { location: "hello", job: "noop", runConfig: {} }) { id } }`,
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
    }
    // The refused document was asked once, then never again: no claim failed and backed off.
    assert.doesNotMatch(agentLog(), /claimWork failed/);
  });
});
