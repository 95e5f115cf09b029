// Attack (issue 13, `deleteCodeLocation`): delete a location and deploy other code under the
// same name. Found on a real `outpost dev`: the new deployment started again at version 1, the
// agent still served the deleted code as that same version, so the new code never loaded (the
// location stayed LOADING, the deleted module's code server kept running), and the old
// deployment's SYNC item could vouch for reports about the new one. A (name, version) must name
// one deployment for ever.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testTemporal } from '../../support/temporal.js';
import { HELLO_MODULE, startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';

const OTHER_MODULE = resolve('test/fixtures/user-code/edge-location/definitions.ts');

let stack: Stack;

async function location(name: string) {
  const r = await stack.gql<{
    codeLocation: { status: string; version: number; jobs: Array<{ name: string }> } | null;
  }>(`query($name: String!) { codeLocation(name: $name) { status version jobs { name } } }`, { name });
  return r.codeLocation;
}

describe('attack: delete a code location and deploy other code under its name', () => {
  before(async () => {
    stack = await startStack({ temporalAddress: (await testTemporal()).address });
    await stack.startAgent();
  });
  after(async () => {
    await stack?.close();
  });

  test('the redeploy gets a version never used for that name, and the agent loads the new code', async () => {
    await stack.deploy('reused', HELLO_MODULE);
    const first = await location('reused');
    assert.equal(first?.status, 'LOADED');
    assert.ok(first.jobs.some((j) => j.name === 'hello'));

    await stack.gql(`mutation { deleteCodeLocation(name: "reused") { name } }`);
    const r = await stack.gql<{ deployCodeLocation: { version: number } }>(
      `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { version } }`,
      { input: { name: 'reused', module: OTHER_MODULE } },
    );
    assert.ok(
      r.deployCodeLocation.version > first.version,
      `version ${r.deployCodeLocation.version} after delete reuses one of the deleted deployment (${first.version})`,
    );
    const now = await until(
      'the redeployed location to load its new code',
      async () => {
        const l = await location('reused');
        return l && l.status !== 'LOADING' ? l : undefined;
      },
      45_000,
    );
    assert.equal(now.status, 'LOADED');
    assert.deepEqual(
      now.jobs.map((j) => j.name).filter((n) => n === 'hello' || n === 'diamond'),
      ['diamond'],
    );
  });
});
