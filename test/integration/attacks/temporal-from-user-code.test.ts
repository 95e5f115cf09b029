// Attack: a run's user code uses the Temporal frontend, reachable on loopback and answering
// every client (no mTLS, no authorizer: the dev server's and a default server's setting), against
// another run. On a real stack (control plane, in-process agent sandboxed as it chooses, real
// Temporal dev server) this pins down what the README's "Temporal is reachable and
// unauthenticated" says: the hostile run finds the other run's workflow by its search attribute,
// reads its run config in the history, and a terminate or a `terminate` signal ends that run as
// CANCELED within seconds (never left STARTED). If a sandbox closes the frontend to user code,
// this test fails at the probe: then the README changes with it.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testTemporal } from '../../support/temporal.js';
import { startStack, type Stack } from '../../support/stack.js';

const PROBE = resolve('test/fixtures/user-code/temporal-probe/definitions.ts');
const SECRET = 'VICTIM_SECRET_IN_CONFIG';
const DONE = ['SUCCESS', 'FAILURE', 'CANCELED'];

interface ProbeReport {
  found?: string[];
  configInHistory?: boolean;
  error?: string;
}

let stack: Stack;

async function probe(victimRunId: string, action: string): Promise<ProbeReport> {
  const config = { address: stack.temporalAddress, victimRunId, action };
  const id = await stack.launch('probe', config, 'temporal_probe');
  const run = await stack.waitRun(id, DONE, 120_000);
  assert.equal(run.status, 'SUCCESS', JSON.stringify(run.events.slice(-3)));
  const out = await stack.computeLogs(id, 'stdout');
  const line = out.split('\n').find((l) => l.includes('PROBE_TEMPORAL '));
  assert.ok(line, `the probe printed nothing: ${out.slice(-500)}`);
  return JSON.parse(line.slice(line.indexOf('PROBE_TEMPORAL ') + 'PROBE_TEMPORAL '.length)) as ProbeReport;
}

/** Another run, sleeping with a config value no one else should read. */
async function victim(): Promise<string> {
  const id = await stack.launch('victim', { seconds: 600, secret: SECRET }, 'temporal_probe');
  await stack.waitRun(id, ['STARTED'], 120_000);
  return id;
}

describe('attack: user code against Temporal', () => {
  before(async () => {
    stack = await startStack({ temporalAddress: (await testTemporal()).address });
    await stack.startAgent();
    await stack.deploy('temporal_probe', PROBE);
  });
  after(() => stack?.close());

  test("another run's workflow is found and its run config read", async () => {
    const v = await victim();
    try {
      const r = await probe(v, 'read');
      assert.equal(r.error, undefined);
      assert.deepEqual(r.found, [`run-${v}`]);
      assert.equal(r.configInHistory, true, 'the run config travels in the workflow input');
      assert.equal((await stack.run(v)).status, 'STARTED', 'reading changed nothing');
    } finally {
      await stack.gql(`mutation($id: ID!) { terminateRun(id: $id) { id } }`, { id: v });
      await stack.waitRun(v, DONE, 60_000);
    }
  });

  for (const action of ['terminate', 'signal-terminate']) {
    test(`${action} of another run's workflow ends that run as CANCELED, not left STARTED`, async () => {
      const v = await victim();
      const r = await probe(v, action);
      assert.equal(r.error, undefined);
      const run = await stack.waitRun(v, DONE, 60_000);
      assert.equal(run.status, 'CANCELED');
      assert.equal(run.events.at(-1)?.type, 'RUN_CANCELED');
    });
  }
});
