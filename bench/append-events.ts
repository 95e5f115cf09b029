// appendRunEvents ingest throughput on SQLite and PostgreSQL, per batch size: the store call
// the agent API makes (one transaction per batch), and the same through the agent API's HTTP
// handler (GraphQL parse + validation + JSON included). Starts its own PostgreSQL.
//   npx tsx bench/append-events.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createControlPlaneFetchHandler } from '../src/control-plane/index.js';
import { registerAgent } from '../src/control-plane/store/agents.js';
import { claimOnce } from '../src/control-plane/store/work-queue.js';
import { appendRunEvents, type RunEventInput } from '../src/control-plane/store/run-events.js';
import { createRun } from '../src/control-plane/services/runs-service.js';
import { Store } from '../src/control-plane/store/store.js';
import { createToken } from '../src/control-plane/store/tokens.js';
import { createLogger } from '../src/shared/logger.js';
import { startPostgres, type PgCluster } from '../test/support/postgres.js';
import { isQuick, report, type Figure } from './support/report.js';

const quick = isQuick();
const BATCH_SIZES = [500, 2000, 5000];
const EVENTS_PER_CASE = quick ? 20_000 : 100_000;
const HTTP_EVENTS = quick ? 10_000 : 40_000;

/** A realistic LOG event: a message and a small structured payload. */
function events(from: number, n: number): RunEventInput[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: from + i,
    type: 'LOG',
    timestamp: 1_700_000_000_000 + from + i,
    stepKey: 'op_' + ((from + i) % 7),
    level: 'info',
    message: `processed record ${from + i} of the batch`,
    data: { record: from + i, ok: true },
  }));
}

async function newRun(store: Store): Promise<string> {
  const { run } = await store.transaction((trx) =>
    createRun(trx, store, { location: 'bench', job: 'chatty', runConfig: {}, tags: {} }),
  );
  return run.id;
}

async function storeThroughput(store: Store, batch: number): Promise<number> {
  const runId = await newRun(store);
  await appendRunEvents(store, runId, events(1, batch)); // warm-up (prepared statements, JIT)
  let seq = batch + 1;
  const t0 = performance.now();
  while (seq <= EVENTS_PER_CASE + batch) {
    const r = await appendRunEvents(store, runId, events(seq, batch));
    seq += batch;
    if (r.highestContiguousSeq !== seq - 1) throw new Error(`contiguity broken at ${seq}`);
  }
  return EVENTS_PER_CASE / ((performance.now() - t0) / 1000);
}

async function httpThroughput(store: Store, batch: number): Promise<number> {
  const handler = createControlPlaneFetchHandler({
    store,
    web: false,
    logger: createLogger({ name: 'bench', level: 'silent' }),
  });
  const { token, info } = await createToken(store, 'agent', 'bench');
  const runId = await newRun(store);
  // Only the agent holding the run's launch may append: register one and claim the launch.
  const agentId = await registerAgent(store, { name: 'bench', hostname: 'h', version: '0', taskQueue: 'q' }, info);
  await claimOnce(store, agentId, 100);
  const query = `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { highestContiguousSeq } }`;
  const post = async (from: number): Promise<void> => {
    const res = await handler(
      new Request('http://127.0.0.1/agent/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables: { a: agentId, r: runId, e: events(from, batch) } }),
      }),
    );
    const body = (await res.json()) as { errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
  };
  await post(1);
  const t0 = performance.now();
  for (let seq = batch + 1; seq <= HTTP_EVENTS + batch; seq += batch) await post(seq);
  return HTTP_EVENTS / ((performance.now() - t0) / 1000);
}

async function freshPgUrl(cluster: PgCluster): Promise<string> {
  const c = new pg.Client({ connectionString: cluster.url });
  await c.connect();
  await c.query('CREATE DATABASE bench_append');
  await c.end();
  const u = new URL(cluster.url);
  u.pathname = '/bench_append';
  return u.toString();
}

async function main(): Promise<void> {
  const figures: Figure[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-'));
  let cluster: PgCluster | undefined;
  try {
    const targets: [string, string][] = [['sqlite', `sqlite:${join(dir, 'bench.db')}`]];
    try {
      cluster = await startPostgres();
      targets.push(['postgres', await freshPgUrl(cluster)]);
    } catch (err) {
      console.warn(`PostgreSQL skipped: ${err instanceof Error ? err.message : String(err)}`);
    }
    for (const [dialect, url] of targets) {
      const store = await Store.open({ url });
      try {
        for (const batch of BATCH_SIZES) {
          figures.push({
            name: `${dialect} store, batch ${batch}`,
            value: await storeThroughput(store, batch),
            unit: 'events/s',
            ...(dialect === 'sqlite' ? { target: '≥ 50000' } : {}),
            note: `${EVENTS_PER_CASE} events, one transaction per batch`,
          });
        }
        figures.push({
          name: `${dialect} agent API (HTTP handler), batch 2000`,
          value: await httpThroughput(store, 2000),
          unit: 'events/s',
          note: `${HTTP_EVENTS} events; GraphQL parse + validation + JSON`,
        });
      } finally {
        await store.close();
      }
    }
  } finally {
    cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  report(
    'append-events',
    { quick, batchSizes: BATCH_SIZES, eventsPerCase: EVENTS_PER_CASE, httpEvents: HTTP_EVENTS },
    figures,
  );
}

await main();
