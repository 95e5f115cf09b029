// A control plane upgraded before its agents: a real agent from before the partitionRun query
// (this repository at OLD_AGENT_COMMIT, run from its own sources) refuses the query kind, and
// the control plane asks it as it was asked then (partitionConfig + partitionTags, the set listed
// where the snapshot cannot list it), so a partition launch still gets its config and tags.
// Before the fallback the launch was refused INVALID_ARGUMENT with the old agent's zod message.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testTemporal } from '../../support/temporal.js';
import { spawnAgentProcess, startStack, type Stack } from '../../support/stack.js';
import { extractRelease, releaseCli, releaseSkip } from '../../support/old-release.js';
import { until } from '../../support/wait.js';

/** The last commit before partitionRun (f489111): its agent knows partitionNames/Config/Tags only. */
const OLD_AGENT_COMMIT = 'd1a0f8815ddb0f0236114d36dea49ba16e703bee';
const skip = releaseSkip(OLD_AGENT_COMMIT, 'old-agent');

describe('an agent from before partitionRun, under this control plane', { skip, timeout: 400_000 }, () => {
  let stack: Stack;
  let oldTree: string;
  let agent: ChildProcess | undefined;
  before(async () => {
    oldTree = extractRelease(OLD_AGENT_COMMIT, 'outpost-old-agent-');
    const t = await testTemporal();
    stack = await startStack({ temporalAddress: t.address });
    agent = await spawnAgentProcess(stack, [], {
      cli: releaseCli(oldTree),
      env: { OUTPOST_FROM_SOURCE: '1' },
    });
    const dep = await stack.gql<{ deployCodeLocation: { version: number } }>(
      `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { version } }`,
      { input: { name: 'hello', module: join(oldTree, 'examples', 'hello', 'definitions.ts') } },
    );
    await until(
      'hello loaded by the old agent',
      async () => {
        const s = await stack.locationStatus('hello');
        return s.version === dep.deployCodeLocation.version && s.status !== 'LOADING' ? s : undefined;
      },
      120_000,
    );
    assert.equal((await stack.locationStatus('hello')).status, 'LOADED');
  });
  after(async () => {
    agent?.kill('SIGTERM');
    if (agent && agent.exitCode === null) await new Promise((r) => agent!.once('exit', r));
    await stack?.close();
    if (oldTree) rmSync(oldTree, { recursive: true, force: true });
  });

  test('a partition launch gets its config and tags by the older queries, and the run succeeds', async () => {
    const { launchRun: run } = await stack.gql<{
      launchRun: { id: string; runConfig: Record<string, unknown>; tags: Record<string, string> };
    }>(`mutation($input: LaunchRunInput!) { launchRun(input: $input) { id runConfig tags } }`, {
      input: { location: 'hello', job: 'greet_region', partitionKey: 'eu' },
    });
    assert.deepEqual(run.runConfig, { region: 'eu' });
    assert.equal(run.tags.region, 'eu', "the partition's tags");
    const items = await stack.cp.store.db
      .selectFrom('work_items')
      .select(['payload', 'status', 'error'])
      .where('kind', '=', 'QUERY_CODE_LOCATION')
      .orderBy('created_at')
      .execute();
    const asked = items.map((i) => [(JSON.parse(i.payload) as { query: string }).query, i.status]);
    assert.deepEqual(asked.slice(0, 1), [['partitionRun', 'FAILED']], 'the old agent refused partitionRun');
    assert.deepEqual(
      asked.slice(1, 3).sort(),
      [
        ['partitionConfig', 'COMPLETED'],
        ['partitionTags', 'COMPLETED'],
      ],
      JSON.stringify(items),
    );
    const done = await stack.waitRun(run.id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(done.status, 'SUCCESS', JSON.stringify(done.events.filter((e) => e.error)));
  });
});
