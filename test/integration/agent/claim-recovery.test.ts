// How soon the agent's poller claims again once a control plane that was down is back. Its claims
// back off after failures; that backoff used to grow to 15 s, so work queued after an outage
// could wait up to 15 s. It is now capped at 2 s (CLAIM_RETRY), and any other request of the
// agent that gets an answer (a heartbeat, a shipment) ends the wait at once. Real control plane
// behind a relay that answers 503 while "down", as a load balancer in front of a stopped one would.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { Poller } from '../../../src/agent/poller.js';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';
import { capturedLogger } from '../../support/captured-log.js';
import { startRelay, type Relay } from '../../support/relay.js';
import { testTemporal } from '../../support/temporal.js';
import { until } from '../../support/wait.js';

const t = await testTemporal();
let dir: string;
let cp: ControlPlane;
let token: string;
let relay: Relay;
let down = false;
/** GraphQL operations the relay forwarded, in order. */
const forwarded: string[] = [];

function relayStep(
  req: IncomingMessage,
  body: Buffer<ArrayBuffer>,
  res: ServerResponse,
): Buffer<ArrayBuffer> | undefined {
  if (down) {
    res.writeHead(503, { 'content-type': 'text/html' });
    res.end('<html><body>No server is available to handle this request.</body></html>');
    return undefined;
  }
  try {
    forwarded.push(String((JSON.parse(body.toString('utf8')) as { operationName?: string }).operationName));
  } catch {
    forwarded.push(new URL(req.url!, 'http://x').pathname);
  }
  return body;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-claim-recovery-'));
  cp = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`,
    port: 0,
    logger: createLogger({ name: 'test', level: 'silent' }),
    daemon: false,
    web: false,
  });
  token = await cp.issueToken('agent', 'a');
  relay = await startRelay(cp.url, relayStep);
});
after(async () => {
  await relay.close();
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

const register = { name: 'a', hostname: 'h', version: '0', taskQueue: 'q' };

function pollerFor(client: ReturnType<typeof createControlPlaneClient>, agentId: string, extra = {}) {
  const { logger, lines } = capturedLogger('test-poller', 'warn');
  const poller = new Poller({
    controlPlane: client,
    temporal: t.client,
    agentId,
    taskQueue: 'claim-recovery',
    maxInFlight: 4,
    logger,
    waitMs: 200,
    ...extra,
  });
  return { poller, lines };
}

const retryDelays = (lines: string[]): number[] =>
  lines
    .map((l) => JSON.parse(l) as { msg?: string; retryInMs?: number; code?: string })
    .filter((l) => l.msg === 'claimWork failed; backing off')
    .map((l) => l.retryInMs!);

test('failed claims back off to at most ~2 s (they reached 15 s), and each failure is logged with its code', async () => {
  const client = createControlPlaneClient({ url: relay.url, token });
  const { agentId } = await client.registerAgent(register);
  const { poller, lines } = pollerFor(client, agentId);
  down = true;
  const abort = new AbortController();
  const polling = poller.run(abort.signal);
  try {
    // The old backoff's 5th delay was 4-8 s; the capped one stays within 2 s from the 4th on.
    const delays = await until('five failed claims', () =>
      retryDelays(lines).length >= 5 ? retryDelays(lines) : undefined,
    );
    assert.ok(
      delays.every((d) => d <= 2_000),
      `claim retry delays ${delays.join(', ')} ms`,
    );
    assert.ok(
      lines.some((l) => l.includes('OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE')),
      'each failure names its code',
    );
  } finally {
    down = false;
    abort.abort();
    await polling;
  }
});

test('a claim waiting out its backoff is sent at once when another request of the agent gets an answer', async () => {
  // As agent.ts wires it: every answered request of the client wakes the poller.
  const wakes: { poller?: Poller } = {};
  const client = createControlPlaneClient({
    url: relay.url,
    token,
    onAnswer: () => wakes.poller?.controlPlaneAnswered(),
  });
  const { agentId } = await client.registerAgent(register);
  // A backoff far longer than the test: only the wake-up can bring the next claim.
  const made = pollerFor(client, agentId, { claimRetry: { initialMs: 3_600_000, maxMs: 3_600_000 } });
  wakes.poller = made.poller;
  down = true;
  const abort = new AbortController();
  const polling = made.poller.run(abort.signal);
  try {
    await until('a failed claim', () => retryDelays(made.lines).length >= 1);
    down = false;
    forwarded.length = 0;
    // What the agent's heartbeats and shipments do all the time: any answered request.
    await client.workspace(agentId);
    await until('the next claim', () => forwarded.includes('ClaimWork'));
    assert.equal(retryDelays(made.lines).length, 1, 'that claim got through');
  } finally {
    abort.abort();
    await polling;
  }
});

test('a claim the control plane refuses (not one that did not reach it) waits out its backoff: answers to other requests do not wake it', async () => {
  const wakes: { poller?: Poller } = {};
  const client = createControlPlaneClient({
    url: relay.url,
    token,
    onAnswer: () => wakes.poller?.controlPlaneAnswered(),
  });
  const { agentId } = await client.registerAgent(register);
  // Claims for an agent id another token holds: refused every time, with the control plane up.
  const other = createControlPlaneClient({ url: relay.url, token: await cp.issueToken('agent', 'b') });
  const { agentId: theirs } = await other.registerAgent({ ...register, name: 'b' });
  const made = pollerFor(client, theirs, { claimRetry: { initialMs: 3_600_000, maxMs: 3_600_000 } });
  wakes.poller = made.poller;
  const abort = new AbortController();
  const polling = made.poller.run(abort.signal);
  try {
    await until('a refused claim', () => retryDelays(made.lines).length >= 1);
    // Shipments and heartbeats keep being answered: a retry they woke would be refused again.
    for (let i = 0; i < 3; i++) await client.workspace(agentId);
    forwarded.length = 0;
    await client.workspace(agentId);
    await until('the relay forwarded the last request', () => forwarded.includes('Workspace'));
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(retryDelays(made.lines).length, 1, `claims: ${forwarded.join(', ')}`);
    assert.ok(!forwarded.includes('ClaimWork'));
  } finally {
    abort.abort();
    await polling;
  }
});
