// An agent upgraded before its control plane: a real round-11 control plane (this repository at
// R11_COMMIT, run from its own sources) does not know partition kind 'other' (a set of a later
// Dagster, whose keys the code server lists) and refused the whole snapshot naming one, so the
// location never loaded. This agent's reporter sends it again with such sets as 'dynamic' (the
// older control plane then asks the agent about a key at launch, and the agent answers from its
// own snapshot). The snapshot is written here: no Dagster release this repository pins has such a set.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocationReporter } from '../../../src/agent/code-server-report.js';
import { createControlPlaneClient, type ControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { createLogger } from '../../../src/shared/logger.js';
import { stopGracefully } from '../../support/process.js';
import {
  extractRelease,
  releaseSkip,
  startReleaseControlPlane,
  type ReleaseControlPlane,
} from '../../support/old-release.js';
import { until } from '../../support/wait.js';

/** The last commit of round 11 (bench: round 11 runs): its snapshot schema knows no 'other'. */
const R11_COMMIT = '9697ccb';
const skip = releaseSkip(R11_COMMIT, 'older-control-plane');

describe('a round-11 control plane, reported to by this agent', { skip, timeout: 300_000 }, () => {
  let oldTree: string;
  let cp: ReleaseControlPlane | undefined;
  let url: string;
  const user = <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => cp!.gql<T>(query, variables);
  before(async () => {
    oldTree = extractRelease(R11_COMMIT, 'outpost-r11-cp-');
    cp = await startReleaseControlPlane(oldTree, oldTree);
    url = cp.url;
  });
  after(async () => {
    await stopGracefully(cp?.child);
    if (oldTree) rmSync(oldTree, { recursive: true, force: true });
  });

  test("a snapshot with an 'other' set loads, the set reading 'dynamic'", async () => {
    const { createToken } = await user<{ createToken: { token: string } }>(
      `mutation { createToken(kind: AGENT, name: "r13") { token } }`,
    );
    const client: ControlPlaneClient = createControlPlaneClient({ url, token: createToken.token });
    const { agentId } = await client.registerAgent({
      name: 'r13',
      hostname: 'localhost',
      version: 'r13',
      taskQueue: 'outpost-r13-test',
    });
    const { deployCodeLocation: dep } = await user<{ deployCodeLocation: { version: number } }>(
      `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { version } }`,
      { input: { name: 'future', module: join(oldTree, 'examples', 'hello', 'definitions.ts') } },
    );
    // This agent's deployment holds the version's SYNC item: the control plane takes its report.
    const claimed = await client.claimWork(agentId, 10, 5_000);
    assert.ok(
      claimed.some((w) => w.kind === 'SYNC_CODE_LOCATION'),
      JSON.stringify(claimed),
    );
    const snapshot = {
      jobs: [{ name: 'shard_job', partitions: 'shard_job_partition_set' }],
      partitions: [
        { name: 'shard_job_partition_set', kind: 'other', dagsterClass: 'ExternalFuturePartitionsDefinitionData' },
      ],
      kind: 'dagster',
    };
    const reporter = new LocationReporter({
      controlPlane: client,
      agentId: () => agentId,
      logger: createLogger({ name: 'r13-test', level: 'silent' }),
      stopped: () => false,
    });
    await reporter.report('future', dep.version, 'LOADED', { snapshot });
    const loc = await until(
      'future loaded',
      async () => {
        const r = await user<{
          codeLocation: { status: string; loadError: string | null; partitions: Array<{ name: string; kind: string }> };
        }>(`{ codeLocation(name: "future") { status loadError partitions { name kind } } }`);
        return r.codeLocation.status === 'LOADED' ? r.codeLocation : undefined;
      },
      30_000,
    );
    assert.deepEqual(loc.partitions, [{ name: 'shard_job_partition_set', kind: 'dynamic' }]);
  });
});
