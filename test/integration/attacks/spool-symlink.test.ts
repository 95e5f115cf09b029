// Attack: a run replaces its stdout.log with a symlink to a file only the agent can read (here a
// stand-in for its token file). The agent reads the spool from outside the sandbox, where the
// link resolves: before the fix it shipped the file as the run's stdout, which every VIEWER
// reads (before: the run's stored stdout was exactly the file). A real control plane, a real in-process agent (sandboxed as it chooses), real Temporal.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { startStack, type Stack } from '../../support/stack.js';
import { testTemporal } from '../../support/temporal.js';

const SECRET = `opa_${'K'.repeat(200)}`;
let stack: Stack;
let target: string;

before(async () => {
  stack = await startStack({ temporalAddress: (await testTemporal()).address });
  // In the agent's temp dir, outside anything bound into the sandbox.
  target = join(stack.dataDir, 'stand-in-agent.token');
  writeFileSync(target, SECRET, { mode: 0o600 });
  await stack.startAgent();
  await stack.deploy('planter', resolve('test/fixtures/user-code/spool-planter/definitions.ts'), {
    PLANT_TARGET: target,
  });
});
after(async () => {
  await stack?.close();
});

test("a symlink planted at the run's stdout.log is not followed by the agent", async () => {
  const id = await stack.launch('plant', {}, 'planter');
  const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
  assert.equal(run.status, 'SUCCESS', JSON.stringify(run.events.slice(-3)));
  const stdout = await stack.computeLogs(id, 'stdout');
  assert.equal(stdout.includes('K'.repeat(20)), false, `the agent shipped the link's target: ${stdout.slice(0, 300)}`);
});
