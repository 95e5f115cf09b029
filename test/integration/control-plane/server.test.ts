// The control plane on a real socket (SQLite): first admin token file, health, readiness and
// metrics, the body limit on a streamed body, a long-poll woken by a launch, the SSE run-events
// subscription, and HTTPS with --tls-cert/--tls-key.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SNAPSHOT } from '../../support/control-plane-harness.js';

const logger = createLogger({ name: 'test', level: 'silent' });

let dir: string;
let cp: ControlPlane;
let userToken: string;
let agentToken: string;

async function gql<T>(path: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(cp.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-cp-'));
  cp = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`,
    port: 0,
    dataDir: dir,
    logger,
    web: false,
  });
  userToken = readFileSync(join(dir, 'user.token'), 'utf8').trim();
  agentToken = await cp.issueToken('agent', 'test-agent');
});
after(async () => {
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the first start writes an owner-only admin user token; a restart keeps it', async () => {
  assert.match(userToken, /^opu_[A-Za-z0-9_-]{43}$/);
  assert.equal(statSync(join(dir, 'user.token')).mode & 0o777, 0o600);
  const again = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`,
    port: 0,
    dataDir: dir,
    logger,
    daemon: false,
    web: false,
  });
  await again.close();
  assert.equal(readFileSync(join(dir, 'user.token'), 'utf8').trim(), userToken);
  const data = await gql<{ tokens: { kind: string; name: string }[] }>(
    '/graphql',
    userToken,
    '{ tokens { kind name } }',
  );
  assert.deepEqual(
    data.tokens.map((t) => `${t.kind}:${t.name}`),
    ['USER:admin', 'AGENT:test-agent'],
  );
});

test('/healthz, /readyz and /metrics answer', async () => {
  assert.deepEqual(await (await fetch(cp.url + '/healthz')).json(), { status: 'ok' });
  assert.deepEqual(await (await fetch(cp.url + '/readyz')).json(), { status: 'ready' });
  const metrics = await (await fetch(cp.url + '/metrics')).text();
  assert.match(metrics, /# TYPE outpost_http_requests_total counter/);
  assert.match(metrics, /outpost_http_requests_total\{route="\/healthz",status="200"\} 1/);
  assert.match(metrics, /# TYPE outpost_runs gauge/);
  assert.match(metrics, /outpost_agents\{healthy="true"\} \d+/);
});

for (const [path, limit, name, flag] of [
  ['/graphql', 1024 * 1024, 'maxUserBodyBytes', '--max-user-body-bytes'],
  ['/agent/graphql', 16 * 1024 * 1024, 'maxBodyBytes', '--max-body-bytes'],
] as const) {
  test(`${path}: a streamed body over the limit is refused with 413 naming the limit`, async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        // 1 MiB over the API's default limit, without a Content-Length header.
        if (sent >= limit + 1024 * 1024) return c.close();
        sent += chunk.length;
        c.enqueue(chunk);
      },
    });
    const res = await fetch(cp.url + path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${path === '/graphql' ? userToken : agentToken}`,
      },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.match(await res.text(), new RegExp(`the limit ${name} is ${limit} \\(raise it with ${flag}`));
  });
}

test('a long-polling claim is answered by a launch; SSE streams the run events until it ends', async () => {
  const { registerAgent } = await gql<{ registerAgent: { agentId: string } }>(
    '/agent/graphql',
    agentToken,
    `mutation { registerAgent(input: { name: "a", hostname: "h", version: "0", taskQueue: "q" }) { agentId } }`,
  );
  const agentId = registerAgent.agentId;
  const { deployCodeLocation } = await gql<{ deployCodeLocation: { version: number } }>(
    '/graphql',
    userToken,
    `mutation { deployCodeLocation(input: { name: "hello", module: "m.ts" }) { version } }`,
  );
  const claim = (waitMs: number) =>
    gql<{ claimWork: { id: string; kind: string; runId: string | null }[] }>(
      '/agent/graphql',
      agentToken,
      `mutation($a: ID!, $w: Int!) { claimWork(agentId: $a, limit: 1, waitMs: $w) { id kind runId } }`,
      { a: agentId, w: waitMs },
    );
  // Only the agent asked to sync a version (it claimed the SYNC item) may report it.
  assert.equal((await claim(0)).claimWork[0]?.kind, 'SYNC_CODE_LOCATION');
  await gql('/agent/graphql', agentToken, `mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }`, {
    i: { agentId, location: 'hello', version: deployCodeLocation.version, status: 'LOADED', snapshot: SNAPSHOT },
  });
  const waiting = claim(20_000);
  const { launchRun } = await gql<{ launchRun: { id: string } }>(
    '/graphql',
    userToken,
    `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`,
  );
  const got = (await waiting).claimWork;
  assert.deepEqual(
    got.map((g) => [g.kind, g.runId]),
    [['LAUNCH_RUN', launchRun.id]],
  );

  const params = new URLSearchParams({
    query: `subscription($r: ID!) { runEvents(runId: $r) { seq type message } }`,
    variables: JSON.stringify({ r: launchRun.id }),
  });
  const sse = await fetch(`${cp.url}/graphql?${params}`, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${userToken}` },
  });
  assert.equal(sse.status, 200);
  assert.match(sse.headers.get('content-type') ?? '', /text\/event-stream/);
  const append = (events: { seq: number; type: string }[]) =>
    gql(
      '/agent/graphql',
      agentToken,
      `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { status } }`,
      {
        a: agentId,
        r: launchRun.id,
        e: events.map((e) => ({ ...e, timestamp: Date.now(), message: `m${e.seq}` })),
      },
    );
  // The control plane's own ENGINE event arrives before the worker's 1, 2, 3: it takes public
  // seq 1 and the worker's events 2, 3, 4; the stream delivers all four once, in that order.
  await gql('/agent/graphql', agentToken, `mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r) }`, {
    a: agentId,
    r: launchRun.id,
  });
  await append([{ seq: 1, type: 'RUN_START' }]);
  await append([
    { seq: 2, type: 'LOG' },
    { seq: 3, type: 'RUN_SUCCESS' },
  ]);
  // The stream ends by itself once the run is finished and every event was sent.
  const text = await sse.text();
  const seqs = [...text.matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(seqs, [1, 2, 3, 4]);
  assert.match(text, /"seq":1,"type":"ENGINE"/);
  // A run that does not exist: the stream answers UNKNOWN_RUN and ends.
  const unknown = new URLSearchParams({
    query: `subscription($r: ID!) { runEvents(runId: $r) { seq } }`,
    variables: JSON.stringify({ r: 'run_nope' }),
  });
  const gone = await fetch(`${cp.url}/graphql?${unknown}`, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${userToken}` },
  });
  assert.match(await gone.text(), /OUTPOST_ERR_UNKNOWN_RUN/);
});

test('HTTPS with --tls-cert and --tls-key', async () => {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
    ],
    {
      stdio: 'ignore',
    },
  );
  const tls = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'tls.sqlite')}`,
    port: 0,
    daemon: false,
    web: false,
    logger,
    tlsCertFile: cert,
    tlsKeyFile: key,
  });
  try {
    assert.match(tls.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        `${tls.url}/healthz`,
        { ca: readFileSync(cert), checkServerIdentity: () => undefined },
        (res) => {
          let s = '';
          res.on('data', (d: Buffer) => (s += d.toString()));
          res.on('end', () => resolve(s));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(JSON.parse(body), { status: 'ok' });
  } finally {
    await tls.close();
  }
});
