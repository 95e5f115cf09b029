// Queries cannot amplify without bound: a static cost and field-count limit refuses alias
// floods before they run (named, with the flag that raises it), and while heavy but allowed
// queries run, /healthz still answers promptly. A real server on a port: the event loop that
// must not block is the server's.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { appendRunEvents } from '../../../src/control-plane/store/run-events.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { createLogger } from '../../../src/shared/logger.js';
import { openHarness } from '../../support/control-plane-harness.js';

const EVENTS = 1000;
let dir: string;
let cp: ControlPlane;
let token: string;
let runId: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-cost-'));
  cp = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'cp.db')}`,
    port: 0,
    daemon: false,
    web: false,
    logger: createLogger({ name: 'cost', level: 'silent' }),
  });
  token = await cp.issueToken('user', 'cost');
  const { run } = await cp.store.transaction((trx) =>
    createRun(trx, cp.store, { location: 'hello', job: 'hello', runConfig: {}, tags: {} }),
  );
  runId = run.id;
  const events = Array.from({ length: EVENTS }, (_, i) => ({
    seq: i + 1,
    type: 'LOG',
    timestamp: 1_700_000_000_000 + i,
    level: 'INFO',
    message: `event ${i + 1} `.padEnd(120, '.'),
  }));
  await appendRunEvents(cp.store, runId, events);
});
after(async () => {
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

async function gql(query: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${cp.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const aliased = (n: number, field: string): string =>
  `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
const eventsField = () => `run(id: "${runId}") { events(first: ${EVENTS}) { seq type message } }`;

function firstError(body: Record<string, unknown>): { message: string; extensions: Record<string, unknown> } {
  const errors = body.errors as { message: string; extensions: Record<string, unknown> }[] | undefined;
  assert.ok(errors?.length, `expected an error, got ${JSON.stringify(body).slice(0, 200)}`);
  return errors[0]!;
}

test('an alias flood over events is refused before it runs, naming the limit and how to raise it', async () => {
  const r = await gql(aliased(40, eventsField()));
  const e = firstError(r.body);
  assert.equal(e.extensions.code, 'OUTPOST_ERR_QUERY_TOO_COSTLY');
  assert.deepEqual(e.extensions.data, { limit: 'maxQueryCost', value: 100_000 });
  assert.match(e.message, /maxQueryCost is 100000 \(raise it with --max-query-cost or OUTPOST_MAX_QUERY_COST\)/);
  assert.equal(r.status, 400);
});

test('too many aliases are refused by count, even of a cheap field', async () => {
  const r = await gql(aliased(600, '__typename'));
  const e = firstError(r.body);
  assert.equal(e.extensions.code, 'OUTPOST_ERR_QUERY_TOO_COSTLY');
  assert.deepEqual(e.extensions.data, { limit: 'maxQueryFields', value: 500 });
});

test('a document nested thousands deep is refused by its nesting, not a parser stack overflow', async () => {
  // Under the token limit, yet graphql-js's recursive parser overflowed on each (OUTPOST_ERR_INTERNAL).
  const literal = (open: string, close: string) => open.repeat(4000) + '1' + close.repeat(4000);
  for (const query of [
    `mutation { launchRun(input: { location: "hello", job: "hello", runConfig: ${literal('{a:', '}')} }) { id } }`,
    `mutation { launchRun(input: { location: "hello", job: "hello", runConfig: { a: ${literal('[', ']')} } }) { id } }`,
    '{ a'.repeat(4000) + '}'.repeat(4000),
  ]) {
    const r = await gql(query);
    const e = firstError(r.body);
    assert.equal(e.extensions.code, 'OUTPOST_ERR_QUERY_TOO_DEEP', e.message);
    assert.deepEqual(e.extensions.data, { limit: 'maxDocumentNesting', value: 256 });
    assert.match(e.message, /the limit maxDocumentNesting is 256 \(fixed\)/);
    assert.equal(r.status, 400);
  }
  // Brackets inside strings and comments do not count.
  const quoted = await gql(`{ __typename # ${'{'.repeat(300)}\n a: __typename(x: "${'['.repeat(300)}") }`);
  assert.notEqual(firstError(quoted.body).extensions.code, 'OUTPOST_ERR_QUERY_TOO_DEEP');
});

test('the cost counts `first` through variables and connections', async () => {
  const res = await fetch(`${cp.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: `query($f: Int) { ${Array.from({ length: 10 }, (_, i) => `r${i}: runs(first: $f) { nodes { id status job location tags runConfig createdAt updatedAt lastSeq agentId } }`).join(' ')} }`,
      variables: { f: 1000 },
    }),
  });
  const e = firstError((await res.json()) as Record<string, unknown>);
  assert.equal(e.extensions.code, 'OUTPOST_ERR_QUERY_TOO_COSTLY');
});

test('/healthz answers promptly while heavy queries run', async (t) => {
  // Allowed: 30 × 1,000 events (cost ~90,000). Refused: the flood (600 × 1,000 events, ~50 MB
  // of answer), which before the limit held the event loop for seconds.
  const allowed = aliased(30, eventsField());
  const flood = aliased(600, eventsField());
  let done = false;
  const latencies: number[] = [];
  const probe = (async () => {
    while (!done) {
      const t0 = performance.now();
      const res = await fetch(`${cp.url}/healthz`);
      await res.text();
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const heavy = await Promise.all([gql(allowed), gql(flood), gql(allowed), gql(flood)]);
  done = true;
  await probe;
  const worst = Math.max(...latencies);
  t.diagnostic(`healthz: ${latencies.length} probes, worst ${worst.toFixed(0)} ms`);
  assert.ok(latencies.length >= 2, 'healthz was probed while the queries ran');
  assert.ok(worst < 1000, `/healthz took ${worst.toFixed(0)} ms while heavy queries ran`);
  const ok = heavy[0].body as { data?: Record<string, { events: unknown[] }> };
  assert.equal(ok.data?.a29?.events.length, EVENTS, 'the allowed query is answered in full');
  assert.equal(firstError(heavy[1].body).extensions.code, 'OUTPOST_ERR_QUERY_TOO_COSTLY');
});

test('an answer over maxResponseBytes is refused, naming the limit', async () => {
  const h = await openHarness(`sqlite:${join(dir, 'small.db')}`, { limits: { maxResponseBytes: 20_000 } });
  try {
    const { run } = await h.store.transaction((trx) =>
      createRun(trx, h.store, { location: 'hello', job: 'hello', runConfig: {}, tags: {} }),
    );
    const events = Array.from({ length: 300 }, (_, i) => ({
      seq: i + 1,
      type: 'LOG',
      timestamp: 1,
      message: 'x'.repeat(100),
    }));
    await appendRunEvents(h.store, run.id, events);
    const small = await h.gql('user', `{ run(id: "${run.id}") { events(first: 10) { seq message } } }`);
    assert.equal(small.errors, undefined);
    const big = await h.gql('user', `{ run(id: "${run.id}") { events(first: 300) { seq message } } }`);
    assert.equal(big.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_RESPONSE_TOO_LARGE');
    assert.match(
      big.errors?.[0]?.message ?? '',
      /the limit maxResponseBytes is 20000 \(raise it with --max-response-bytes/,
    );
    assert.equal(big.status, 400);
  } finally {
    await h.close();
  }
});
