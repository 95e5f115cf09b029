// The agent's control-plane client: what each kind of failure becomes. A GraphQL error keeps the
// server's OUTPOST_ERR_* code; a refused token is UNAUTHENTICATED; anything that says "the
// transport or the server failed" (connection refused, a timeout, a 5xx or a non-GraphQL 2xx
// from a proxy) is CONTROL_PLANE_UNAVAILABLE, which callers retry; another status is INTERNAL.
// Calls reuse kept-alive connections. Real control plane on a socket; the proxy cases go
// through a plain HTTP relay in front of it that answers as a misbehaving proxy would.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { createControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { type ControlPlane } from '../../../src/control-plane/index.js';
import { freePort } from '../../../src/shared/net.js';
import { createLogger } from '../../../src/shared/logger.js';
import { startRelay, type Relay } from '../../support/relay.js';
import { startBareControlPlane, type BareControlPlane } from '../../support/bare-control-plane.js';

const logger = createLogger({ name: 'test', level: 'silent' });
let cp: ControlPlane;
let bare: BareControlPlane | undefined;
let token: string;
let relay: Relay;
let relayUrl: string;
/** What the relay does with the next request: forward it, or answer as a broken proxy. */
let mode: 'forward' | 'html502' | 'html404' | 'html200' | 'hang' | 'noRawEndpoints' = 'forward';
/** Paths the relay was asked for, in order. */
const paths: string[] = [];
let connections = 0;

/** Forwards a request to the control plane, or answers per `mode`. */
function relayStep(
  req: IncomingMessage,
  body: Buffer<ArrayBuffer>,
  res: ServerResponse,
): Buffer<ArrayBuffer> | undefined {
  const html = (status: number): undefined => {
    res.writeHead(status, { 'content-type': 'text/html' });
    res.end('<html><body>Bad Gateway</body></html>');
    return undefined;
  };
  if (mode === 'html502') return html(502);
  if (mode === 'html404') return html(404);
  if (mode === 'html200') return html(200);
  if (mode === 'hang') return undefined; // never answers
  paths.push(new URL(req.url!, 'http://x').pathname);
  if (mode === 'noRawEndpoints' && req.url?.startsWith('/agent/') && !req.url.startsWith('/agent/graphql')) {
    // A control plane from before the raw-body endpoints.
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ errors: [{ message: 'No such endpoint', extensions: { code: 'OUTPOST_ERR_NO_ROUTE' } }] }),
    );
    return undefined;
  }
  return body;
}

before(async () => {
  bare = await startBareControlPlane('cp-client', logger);
  ({ cp } = bare);
  token = await cp.issueToken('agent', 'a');
  relay = await startRelay(cp.url, relayStep);
  relay.server.on('connection', () => connections++);
  relayUrl = relay.url;
});
after(async () => {
  await relay.close();
  await bare?.close();
});

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};
const register = { name: 'a', hostname: 'h', version: '0', taskQueue: 'q' };

test('a call returns the data; sequential calls reuse kept-alive connections, without fetch', async () => {
  mode = 'forward';
  const client = createControlPlaneClient({ url: relayUrl, token });
  const before = connections;
  // The agent's calls go over node:http: loading fetch (undici) cost the idle agent ~10 MB.
  const realFetch = globalThis.fetch;
  // (The relay itself forwards with fetch, to the control plane's own URL.)
  globalThis.fetch = (input, init) =>
    String(input instanceof Request ? input.url : input).startsWith(relayUrl)
      ? Promise.reject(new Error('the agent client used fetch'))
      : realFetch(input, init);
  try {
    const { agentId, heartbeatIntervalMs } = await client.registerAgent(register);
    assert.match(agentId, /\S/);
    assert.ok(heartbeatIntervalMs > 0);
    for (let i = 0; i < 9; i++) assert.deepEqual(await client.workspace(agentId), []);
  } finally {
    globalThis.fetch = realFetch;
  }
  // A second socket may open when a call starts before the previous one's socket is back in the
  // pool; without keep-alive it would be ten.
  const opened = connections - before;
  assert.ok(opened >= 1 && opened <= 2, `ten calls over ${opened} connections`);
});

test("a GraphQL error keeps the server's code and message", async () => {
  const client = createControlPlaneClient({ url: cp.url, token });
  const { agentId } = await client.registerAgent(register);
  const err = await client
    .reportCodeLocation({ agentId, location: 'nope', version: 1, status: 'ERROR', error: 'x' })
    .then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
  assert.equal(err?.code, 'OUTPOST_ERR_LOCATION_NOT_OWNED');
  assert.match(err?.message ?? '', /nope/);
});

test('events and log chunks go to the raw endpoints; without them (an older control plane) the mutations', async () => {
  for (const m of ['forward', 'noRawEndpoints'] as const) {
    mode = m;
    const client = createControlPlaneClient({ url: relayUrl, token });
    const { agentId } = await client.registerAgent(register);
    for (let i = 0; i < 2; i++) {
      paths.length = 0;
      // An unknown run: refused past the token and agent checks, with the server's code either way.
      const event = { seq: 1, type: 'LOG' as const, timestamp: 1 };
      assert.equal(await codeOf(client.appendRunEvents(agentId, 'run_nope', [event])), 'OUTPOST_ERR_UNKNOWN_RUN');
      assert.equal(
        await codeOf(client.appendComputeLogs(agentId, 'run_nope', 'stdout', 0, Buffer.from('x'))),
        'OUTPOST_ERR_UNKNOWN_RUN',
      );
      const expected =
        m === 'forward'
          ? ['/agent/events', '/agent/logs']
          : i === 0
            ? ['/agent/events', '/agent/graphql', '/agent/logs', '/agent/graphql']
            : ['/agent/graphql', '/agent/graphql']; // NO_ROUTE is remembered
      assert.deepEqual(paths, expected, `${m}, call ${i}`);
    }
  }
  mode = 'forward';
});

test('a refused token is UNAUTHENTICATED', async () => {
  const client = createControlPlaneClient({ url: cp.url, token: 'not-a-token' });
  assert.equal(await codeOf(client.registerAgent(register)), 'OUTPOST_ERR_UNAUTHENTICATED');
});

test('connection refused, a 5xx page and a non-GraphQL 2xx are CONTROL_PLANE_UNAVAILABLE; another status is INTERNAL', async () => {
  const closed = createControlPlaneClient({ url: `http://127.0.0.1:${await freePort()}`, token });
  assert.equal(await codeOf(closed.registerAgent(register)), 'OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE');
  // The raw-body calls (their own HTTP client) answer the same way.
  const rawCalls = (c: ReturnType<typeof createControlPlaneClient>) => [
    () => c.appendRunEventLines('agent_x', 'run_x', Buffer.from('{"seq":1,"type":"LOG","timestamp":1}')),
    () => c.appendComputeLogs('agent_x', 'run_x', 'stdout', 0, Buffer.from('x')),
  ];
  for (const call of rawCalls(closed)) assert.equal(await codeOf(call()), 'OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE');
  const viaRelay = createControlPlaneClient({ url: relayUrl, token });
  try {
    mode = 'html502';
    assert.equal(await codeOf(viaRelay.registerAgent(register)), 'OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE');
    for (const call of rawCalls(viaRelay)) assert.equal(await codeOf(call()), 'OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE');
    mode = 'html200';
    assert.equal(await codeOf(viaRelay.registerAgent(register)), 'OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE');
    for (const call of rawCalls(viaRelay)) assert.equal(await codeOf(call()), 'OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE');
    mode = 'html404';
    assert.equal(await codeOf(viaRelay.registerAgent(register)), 'OUTPOST_ERR_INTERNAL');
    for (const call of rawCalls(viaRelay)) assert.equal(await codeOf(call()), 'OUTPOST_ERR_INTERNAL');
  } finally {
    mode = 'forward';
  }
});

test('a call past its timeout, or aborted by its signal, is CONTROL_PLANE_UNAVAILABLE', async () => {
  mode = 'hang';
  try {
    const client = createControlPlaneClient({ url: relayUrl, token, timeoutMs: 300 });
    assert.equal(await codeOf(client.registerAgent(register)), 'OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE');
    // A long-poll: its wait is added to the timeout, and the caller's signal ends it sooner.
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 200);
    const started = Date.now();
    const code = await codeOf(client.claimWork('x', 1, 60_000, abort.signal));
    assert.equal(code, 'OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE');
    assert.ok(Date.now() - started < 30_000, 'the abort ended the call, not the 60 s wait');
  } finally {
    mode = 'forward';
  }
});
