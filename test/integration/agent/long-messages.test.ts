// User code may answer with far more text than anyone reads: a 2 MB skip reason, a 2 MB
// exception. The agent cuts each where it reads the evaluation (to maxTickMessageLength and
// maxFailureMessageLength, the cut naming the limit), so neither travels on in the activity's
// result or failure (Temporal's history) nor in a request to the control plane. A real control
// plane on a socket, the agent's real client, code-server manager and port, a real code server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { coded } from '../../../activities/failures.js';
import { CodeServerManager } from '../../../src/agent/code-server-manager.js';
import { createControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { createOutpostCodeLocations } from '../../../src/agent/outpost-code-location.js';
import { type ControlPlane } from '../../../src/control-plane/index.js';
import { FIXED_INPUT_LIMITS as L } from '../../../src/control-plane/limits.js';
import { createLogger } from '../../../src/shared/logger.js';
import { startBareControlPlane, type BareControlPlane } from '../../support/bare-control-plane.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const LONG = 2_000_000;
let cp: ControlPlane;
let bare: BareControlPlane | undefined;
let manager: CodeServerManager | undefined;
let port: ReturnType<typeof createOutpostCodeLocations>;

before(async () => {
  bare = await startBareControlPlane('long', logger);
  ({ cp } = bare);
  const client = createControlPlaneClient({ url: cp.url, token: await cp.issueToken('agent', 'a') });
  const user = await cp.issueToken('user', 'u');
  const deployed = await fetch(`${cp.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${user}` },
    body: JSON.stringify({
      query: `mutation { deployCodeLocation(input: { name: "wordy", module: "test/fixtures/user-code/long-messages/definitions.ts" }) { version } }`,
    }),
  });
  assert.equal(deployed.status, 200);
  const { agentId } = await client.registerAgent({ name: 'a', hostname: 'h', version: '0', taskQueue: 'q' });
  manager = new CodeServerManager({ controlPlane: client, agentId: () => agentId, logger });
  await manager.refresh();
  assert.equal((await manager.settled('wordy', 1, 120_000)).status, 'LOADED');
  port = createOutpostCodeLocations({ codeServers: manager, logger });
});
after(async () => {
  await manager?.stop();
  await bare?.close();
});

/** `text` kept within `max`, starting with what was sent and naming `limit`, with the count it cut. */
function assertCut(text: string, max: number, limit: string, fill: string): void {
  assert.ok(text.length <= max, `kept ${text.length} characters`);
  assert.ok(text.includes(fill.repeat(100)), 'what was sent, up to the cut');
  assert.match(text, new RegExp(limit));
}

test("a sensor's and a schedule's skip reason are cut where the agent reads them", async () => {
  const sensed = await port.evaluateSensor({ location: 'wordy', sensor: 'wordy_skip' });
  assertCut(sensed.skipReason!, L.maxTickMessageLength, 'maxTickMessageLength', 'x');
  const kept = /^x*/.exec(sensed.skipReason!)![0].length;
  assert.equal(kept + Number(/… (\d+) more characters cut/.exec(sensed.skipReason!)?.[1]), LONG);
  const scheduled = await port.evaluateSchedule({
    location: 'wordy',
    schedule: 'wordy_schedule',
    tickTimeMs: Date.UTC(2026, 0, 1),
  });
  assertCut(scheduled.skipReason!, L.maxTickMessageLength, 'maxTickMessageLength', 's');
});

test("an evaluation's 2 MB exception fails the activity with a cut message and no whole copy", async () => {
  const failure = await coded(() => port.evaluateSensor({ location: 'wordy', sensor: 'wordy_error' })).then(
    () => assert.fail('the evaluation should fail'),
    (e: unknown) => e,
  );
  assert.ok(failure instanceof ApplicationFailure);
  assert.equal(failure.type, 'OUTPOST_ERR_USER_CODE_ERROR');
  assertCut(failure.message, L.maxFailureMessageLength, 'maxFailureMessageLength', 'e');
  // What Temporal would write to the history: the failure, its stack and its causes.
  let size = 0;
  for (let e: unknown = failure; e instanceof Error; e = e.cause) size += e.message.length + (e.stack?.length ?? 0);
  assert.ok(size < 4 * L.maxFailureMessageLength, `the failure and its causes carry ${size} characters`);
});
