// A location's env as its readers see it, over GraphQL on SQLite and PostgreSQL: a Dagster
// location's secrets (what EnvVar("WH_PASSWORD") reads) are set in its env, so a credential-named
// value is write-only through the user API (deploy's answer, codeLocation, codeLocations, any
// role), while the agent API still serves it as deployed, for the code server and runs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeEachDialect } from '../../support/storage.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';
import { createToken } from '../../../src/control-plane/store/tokens.js';

const SECRET = 'hunter2-a-warehouse-password';
const ENV = { WH_USER: 'alice', WH_PASSWORD: SECRET, SNOWFLAKE_API_KEY: `k-${SECRET}`, REGION: 'eu' };
const DEPLOY = `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { spec } }`;

describeEachDialect('location env seen by readers', (target) => {
  let h: Harness;
  before(async () => {
    h = await openHarness(await target.freshUrl());
  });
  after(() => h.close());

  test('credential-named env values read as (hidden) on the user API; the agent API serves them as deployed', async () => {
    const deployed = await h.gql<{ deployCodeLocation: { spec: { env: Record<string, string> } } }>('user', DEPLOY, {
      i: {
        name: 'shop',
        env: ENV,
        dagster: { python: '/venv/bin/python', pythonFile: 'defs.py', workingDirectory: '/srv/shop' },
      },
    });
    assert.deepEqual(
      deployed.data?.deployCodeLocation.spec.env,
      { WH_USER: 'alice', WH_PASSWORD: '(hidden)', SNOWFLAKE_API_KEY: '(hidden)', REGION: 'eu' },
      JSON.stringify(deployed),
    );
    const viewer = (await createToken(h.store, 'user', 'viewer', { role: 'VIEWER' })).token;
    for (const token of [undefined, viewer]) {
      const read = await h.gql(
        'user',
        `{ codeLocation(name: "shop") { spec } codeLocations { name spec } }`,
        {},
        token,
      );
      assert.ok(read.data, JSON.stringify(read));
      assert.ok(!JSON.stringify(read).includes(SECRET), 'no reader sees the secret');
      assert.match(JSON.stringify(read), /"WH_PASSWORD":"\(hidden\)"/);
      assert.match(JSON.stringify(read), /"WH_USER":"alice"/);
    }
    const reg = await h.gql<{ registerAgent: { agentId: string } }>(
      'agent',
      `mutation { registerAgent(input: { name: "a1", hostname: "h", version: "0", taskQueue: "q1" }) { agentId } }`,
    );
    const ws = await h.gql<{ workspace: { name: string; spec: { env: Record<string, string> } }[] }>(
      'agent',
      `query($a: ID!) { workspace(agentId: $a) { name spec } }`,
      { a: reg.data!.registerAgent.agentId },
    );
    assert.deepEqual(ws.data?.workspace.find((l) => l.name === 'shop')?.spec.env, ENV, JSON.stringify(ws));
  });
});
