// A LAUNCHER's queryCodeLocation runConfig and testSensor cursor reach the agent inside a work
// item's payload, which becomes a Temporal workflow input; Temporal refuses inputs past 2 MB,
// so an agent could never start such an item's workflow. The user API refuses them first,
// naming the limit, and queues nothing. A real control plane on a socket.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FIXED_INPUT_LIMITS, DEFAULT_API_LIMITS } from '../../../src/control-plane/limits.js';
import { startHelloStack, type ScriptedStack } from '../../support/scripted-agent.js';

let s: ScriptedStack;
let launcher: string;

before(async () => {
  s = await startHelloStack();
  launcher = await s.cp.issueToken('user', 'launcher', 'LAUNCHER');
});
after(async () => {
  await s.close();
});

async function asLauncher(query: string, variables: Record<string, unknown>) {
  const res = await fetch(`${s.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${launcher}` },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: res.status,
    ...((await res.json()) as { errors?: { message: string; extensions: { code: string; hint: string } }[] }),
  };
}

async function queuedItems(kind: string): Promise<number> {
  const d = await s.user<{ workItems: unknown[] }>(
    'query($k: WorkItemKind!) { workItems(filter: { kind: $k }) { id } }',
    {
      k: kind,
    },
  );
  return d.workItems.length;
}

test('queryCodeLocation: a runConfig past maxRunConfigBytes is refused, naming the limit; nothing is queued', async () => {
  const before = await queuedItems('QUERY_CODE_LOCATION');
  const big = { blob: 'x'.repeat(DEFAULT_API_LIMITS.maxRunConfigBytes + 1) };
  const r = await asLauncher(
    'mutation($c: JSON!) { queryCodeLocation(input: { location: "hello", job: "hello", query: EXECUTION_PLAN, runConfig: $c }, waitMs: 0) { id } }',
    { c: big },
  );
  assert.equal(r.status, 400);
  assert.equal(r.errors?.[0]?.extensions.code, 'OUTPOST_ERR_INPUT_TOO_LARGE');
  assert.match(r.errors[0].message, /maxRunConfigBytes.*--max-run-config-bytes/);
  assert.equal(await queuedItems('QUERY_CODE_LOCATION'), before);
});

test('testSensor: a cursor past maxSensorCursorBytes is refused, naming the limit; nothing is queued', async () => {
  const before = await queuedItems('EVALUATE_SENSOR');
  const r = await asLauncher(
    'mutation($c: String!) { testSensor(input: { location: "hello", name: "file_sensor", cursor: $c }) { cursor } }',
    { c: 'x'.repeat(FIXED_INPUT_LIMITS.maxSensorCursorBytes + 1) },
  );
  assert.equal(r.status, 400);
  assert.equal(r.errors?.[0]?.extensions.code, 'OUTPOST_ERR_INPUT_TOO_LARGE');
  assert.match(r.errors[0].message, /maxSensorCursorBytes/);
  assert.equal(await queuedItems('EVALUATE_SENSOR'), before);
});

test('queryCodeLocation: a partitionKey, opSelection or assetSelection past maxQuerySelectionBytes is refused; nothing is queued', async () => {
  const before = await queuedItems('QUERY_CODE_LOCATION');
  // Past the limit, within the user API's body limit (maxUserBodyBytes, 1 MiB).
  const big = 'x'.repeat(FIXED_INPUT_LIMITS.maxQuerySelectionBytes + 1);
  const cases: Record<string, unknown>[] = [{ p: big }, { o: [big] }, { a: [big] }];
  for (const variables of cases) {
    const r = await asLauncher(
      'mutation($p: String, $o: [String!], $a: [String!]) { queryCodeLocation(input: { location: "hello", job: "hello", query: EXECUTION_PLAN, partitionKey: $p, opSelection: $o, assetSelection: $a }, waitMs: 0) { id } }',
      variables,
    );
    assert.equal(r.status, 400, JSON.stringify(Object.keys(variables)));
    assert.equal(r.errors?.[0]?.extensions.code, 'OUTPOST_ERR_INPUT_TOO_LARGE');
    assert.match(r.errors[0].message, /maxQuerySelectionBytes/);
  }
  assert.equal(await queuedItems('QUERY_CODE_LOCATION'), before);
});
