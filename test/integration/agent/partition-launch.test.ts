// Launching a partition through a real agent and code server: the partition key alone brings
// the run config and tags the location's partitionConfig / partitionTags give it (asked of the
// location at launch), a user's config wins over it, and a key outside the set is refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testTemporal } from '../../support/temporal.js';
import { HELLO_MODULE, startStack, type Stack } from '../../support/stack.js';

const t = await testTemporal();
const BIN = resolve(import.meta.dirname, '..', '..', '..', 'bin', 'outpost.mjs');

interface Launched {
  id: string;
  runConfig: Record<string, unknown>;
  tags: Record<string, string>;
}

describe('agent: launching a partition', { timeout: 300_000 }, () => {
  let stack: Stack;
  let userToken: string;
  before(async () => {
    stack = await startStack({ temporalAddress: t.address });
    await stack.startAgent();
    await stack.deploy('hello', HELLO_MODULE);
    userToken = await stack.cp.issueToken('user', 'partition-cli');
  });
  after(() => stack?.close());

  const launch = (input: Record<string, unknown>): Promise<{ launchRun: Launched }> =>
    stack.gql<{ launchRun: Launched }>(
      `mutation($input: LaunchRunInput!) { launchRun(input: $input) { id runConfig tags } }`,
      { input: { location: 'hello', job: 'greet_region', ...input } },
    );
  /** Whatever the run said: its events (with data) and stdout. */
  async function said(id: string): Promise<string> {
    const r = await stack.gql<{ run: { events: unknown[] } }>(
      `query($id: ID!) { run(id: $id) { events { message data } } }`,
      {
        id,
      },
    );
    return JSON.stringify(r.run.events) + (await stack.computeLogs(id, 'stdout'));
  }

  test('the key alone: the partition config and tags come from the location, and the run succeeds', async () => {
    const { launchRun: run } = await launch({ partitionKey: 'eu' });
    assert.deepEqual(run.runConfig, { region: 'eu' });
    assert.equal(run.tags.region, 'eu', 'partitionTags');
    assert.equal(run.tags['outpost/partition'], 'eu');
    const done = await stack.waitRun(run.id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(done.status, 'SUCCESS', JSON.stringify(done.events.filter((e) => e.error)));
    assert.match(await said(run.id), /hello eu/);
  });

  test("the user's config and tags win over the partition's", async () => {
    const { launchRun: run } = await launch({
      partitionKey: 'us',
      runConfig: { region: 'us-east' },
      tags: { region: 'mine' },
    });
    assert.deepEqual(run.runConfig, { region: 'us-east' });
    assert.equal(run.tags.region, 'mine');
    assert.equal(run.tags['outpost/partition'], 'us');
    const done = await stack.waitRun(run.id, ['SUCCESS', 'FAILURE', 'CANCELED']);
    assert.equal(done.status, 'SUCCESS');
    assert.match(await said(run.id), /hello us-east/);
  });

  test('a key outside the set is still refused, and no run is written', async () => {
    const before = (await stack.cp.store.db.selectFrom('runs').select('id').execute()).length;
    await assert.rejects(launch({ partitionKey: 'mars' }), /OUTPOST_ERR_UNKNOWN_PARTITION|"mars" is not in regions/);
    await assert.rejects(launch({ partitionKey: 'eu', runConfig: { extra: 1 } }), /CONFIG_SCHEMA_VIOLATION|extra/);
    assert.equal((await stack.cp.store.db.selectFrom('runs').select('id').execute()).length, before);
  });

  test('outpost runs launch greet_region --partition eu succeeds with no config', async () => {
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
      const child = spawn(
        process.execPath,
        [BIN, 'runs', 'launch', 'greet_region', '--location', 'hello', '--partition', 'eu', '--follow', '--json'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, OUTPOST_URL: stack.cp.url, OUTPOST_TOKEN: userToken },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', fail);
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const final = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { run: { status: string } };
    assert.equal(final.run.status, 'SUCCESS');
    assert.match(r.stdout, /hello eu/);
  });
});
