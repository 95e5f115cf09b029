// Ingest: one `chatty` run emitting N LOG events, end to end (run worker spool → agent tail →
// agent API → store), on SQLite and on PostgreSQL. Measured from the first event's timestamp
// (written by the run worker) to the moment the last event is visible in the store (read when the
// store signals a commit of the run's events, and every 10 ms besides). Floor, same run, same
// store: the same rows appended directly with the store's own appendRunEvents in the agent's
// batch size (no spool, no HTTP, no GraphQL). The agent (and the
// run workers it starts) run compiled, as `outpost agent` runs; `--from-source` for the old form
// (through tsx).
//   npx tsx bench/ingest.ts [--quick] [--from-source]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EVENT_BATCH } from '../src/agent/spool-shipper.js';
import { appendRunEvents, listRunEvents, type RunEventInput } from '../src/control-plane/store/run-events.js';
import { createRun } from '../src/control-plane/services/runs-service.js';
import type { Store } from '../src/control-plane/store/store.js';
import { startDevServer } from '../src/shared/temporal-dev-server.js';
import { startPostgres, type PgCluster } from '../test/support/postgres.js';
import { isQuick, report, type Figure } from './support/report.js';
import { compiledCli, HELLO_MODULE, startBenchSystem } from './support/stack.js';
import { cpuOf, startWindowCpu } from './support/window-cpu.js';
import { threadCpu, threadCpuSince } from './support/thread-cpu.js';
import { procTimes } from './support/proc-cpu.js';
import { descendants } from '../test/support/process.js';

const quick = isQuick();
const fromSource = process.argv.includes('--from-source');
const EVENTS = quick ? 20_000 : 100_000;
/** Events of the warm-up run: ~7 MB of SQLite WAL, past the checkpoint thread's start at 4 MB (see measure()). */
const WARMUP_EVENTS = 40_000;
const progress = (msg: string): void => console.error(`[ingest] ${msg}`);

/**
 * The run's highest stored worker seq, the store's own way: runs.last_seq is written in the
 * transaction that makes events visible, and run_events holds exactly worker seqs 1..last_seq
 * (a later one waits in run_events_pending). The bench polls this every 10 ms in the control
 * plane's own process: max(worker_seq) over run_events read every row of the run (7–8 ms at
 * 100k rows on SQLite), which took up to most of the control plane's thread late in the run.
 */
async function storedSeq(store: Store, runId: string): Promise<{ lastSeq: number; status: string }> {
  const r = await store.db.selectFrom('runs').select(['last_seq', 'status']).where('id', '=', runId).executeTakeFirst();
  return { lastSeq: Number(r?.last_seq ?? 0), status: r?.status ?? '' };
}

/** max(worker_seq) over run_events: checked once at the end against storedSeq. */
async function maxSeq(store: Store, runId: string): Promise<number> {
  const r = await store.db
    .selectFrom('run_events')
    .select((eb) => eb.fn.max('worker_seq').as('m'))
    .where('run_id', '=', runId)
    .executeTakeFirst();
  return Number(r?.m ?? 0);
}

async function allEvents(store: Store, runId: string): Promise<RunEventInput[]> {
  const out: RunEventInput[] = [];
  let after = 0;
  for (let i = 0; i < 10_000; i++) {
    const page = await listRunEvents(store, runId, after, 10_000);
    const user = page.filter((e) => e.workerSeq !== null);
    if (!page.length) break;
    for (const e of user) {
      out.push({
        seq: e.workerSeq!,
        type: e.type,
        timestamp: e.timestamp,
        ...(e.stepKey ? { stepKey: e.stepKey } : {}),
        ...(e.level ? { level: e.level } : {}),
        ...(e.message ? { message: e.message } : {}),
        ...(e.data ? { data: e.data } : {}),
        ...(e.error ? { error: e.error } : {}),
      });
    }
    after = page[page.length - 1]!.seq;
  }
  return out;
}

async function measure(
  dialect: string,
  url: string,
  temporal: Awaited<ReturnType<typeof startDevServer>>,
): Promise<Figure[]> {
  const sys = await startBenchSystem({ databaseUrl: url, temporal });
  try {
    const agent = await sys.spawnAgent([], fromSource ? undefined : compiledCli());
    progress(`${dialect}: agent ready`);
    await sys.stack.deploy('hello', HELLO_MODULE);
    progress(`${dialect}: hello deployed`);
    const store = sys.stack.cp.store;
    // Warm-up: one run so the code path and the store are hot, as they are for the floor that
    // follows the measured run: WARMUP_EVENTS fill more than SQLite's checkpoint threshold (1000
    // WAL pages), so the store's checkpoint thread is running, as it is while the floor appends
    // (with 1,000 events it was started inside the measured window, ~30 ms of CPU there, and
    // 20,000 left the WAL at 3.6 MB, short of it).
    const warm = await sys.stack.launch('chatty', { events: WARMUP_EVENTS });
    await sys.stack.waitRun(warm, ['SUCCESS']);
    progress(`${dialect}: warm-up run done`);

    const threads0 = threadCpu();
    const children0 = childCpu(agent.pid!);
    const stopCpu = await startWindowCpu(agent.pid!, dialect);
    const runId = await sys.stack.launch('chatty', { events: EVENTS });
    // The last stored event is the one with the highest seq; note when that seq first appeared.
    // Read when the store signals a commit of the run's events (as a runEvents subscription is
    // woken), and every 10 ms besides: a poll alone saw the last commit 5 ms late on average
    // and spent the control plane's thread on a query every 10 ms.
    let lastStoredAt = 0;
    let seen = 0;
    for (let i = 0; i < 60_000; i++) {
      const { lastSeq: m, status } = await storedSeq(store, runId);
      if (m > seen) {
        seen = m;
        lastStoredAt = Date.now();
      }
      // A terminal status read with the seq in one row: nothing is stored after it.
      if (['SUCCESS', 'FAILURE', 'CANCELED'].includes(status)) break;
      await store.signals.waitFor({ runId }, 10);
    }
    const cpu = await stopCpu();
    const threads = threadCpuSince(threads0);
    let spawnedMs = 0;
    for (const [key, ms] of childCpu(agent.pid!)) if (!children0.has(key)) spawnedMs += ms;
    const final = await sys.stack.waitRun(runId, ['SUCCESS', 'FAILURE']);
    const rows = await allEvents(store, runId);
    const contiguous = rows.every((e, i) => e.seq === i + 1) && (await maxSeq(store, runId)) === seen;
    const firstWrittenAt = rows[0]!.timestamp;
    const e2eSecs = (lastStoredAt - firstWrittenAt) / 1000;
    const e2e = rows.length / e2eSecs;

    // Floor: the same rows, batch-inserted directly into the same store.
    const { run } = await store.transaction((trx) =>
      createRun(trx, store, { location: 'bench', job: 'chatty', runConfig: {}, tags: {} }),
    );
    const floorThreads0 = threadCpu();
    const t0 = performance.now();
    const floorCpuMs = await cpuOf(async () => {
      for (let i = 0; i < rows.length; i += EVENT_BATCH)
        await appendRunEvents(store, run.id, rows.slice(i, i + EVENT_BATCH));
    });
    const floor = rows.length / ((performance.now() - t0) / 1000);
    const floorThreads = threadCpuSince(floorThreads0);
    const perEvent = (ms: number): string => ((ms * 1000) / rows.length).toFixed(2);
    const note = `${rows.length} events, status ${final.status}, seqs contiguous: ${contiguous}`;
    return [
      {
        name: `${dialect}: end to end`,
        value: e2e,
        unit: 'events/s',
        ...(dialect === 'sqlite' ? { target: '≥ 50000' } : {}),
        note,
      },
      { name: `${dialect}: floor (direct batched insert, batch ${EVENT_BATCH})`, value: floor, unit: 'events/s' },
      { name: `${dialect}: end to end / floor`, value: e2e / floor, unit: 'ratio', target: '≥ 0.5' },
      { name: `${dialect}: first written → last stored`, value: e2eSecs * 1000, unit: 'ms' },
      // Load-independent: CPU per event over launch → last stored (the run's own bookkeeping included).
      {
        name: `${dialect}: CPU per event, bench process (control plane + polling)`,
        value: (cpu.benchMs * 1000) / rows.length,
        unit: 'µs',
        note: `floor (appendRunEvents alone): ${((floorCpuMs * 1000) / rows.length).toFixed(2)} µs/event`,
      },
      // Split by thread (/proc, 10 ms ticks): the event loop every request waits for, and the
      // rest (V8's GC helpers, the SQLite checkpoint thread, libuv's pool).
      {
        name: `${dialect}: CPU per event, bench process main thread`,
        value: (threads.mainMs * 1000) / rows.length,
        unit: 'µs',
        note: `other threads ${perEvent(threads.otherMs)} µs; floor: main ${perEvent(floorThreads.mainMs)}, other ${perEvent(floorThreads.otherMs)}`,
      },
      { name: `${dialect}: CPU per event, agent`, value: (cpu.agentMs * 1000) / rows.length, unit: 'µs' },
      // What the run's launch started meanwhile: the replacement of the standby the run took.
      {
        name: `${dialect}: CPU in the window of processes the agent started during it`,
        value: spawnedMs,
        unit: 'ms',
        note: 'the taken standby’s replacement booting (a standby boot is ~95 ms of CPU)',
      },
      // The run worker's own writing time bounds end to end from below (it shares the 2 cores).
      {
        name: `${dialect}: first written → last written (run worker)`,
        value: rows[rows.length - 1]!.timestamp - firstWrittenAt,
        unit: 'ms',
      },
    ];
  } finally {
    await sys.close();
  }
}

/** CPU so far (ms, own) of each process below `root`, keyed by pid and start time. */
function childCpu(root: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of descendants(root)) {
    const t = procTimes(pid);
    if (t) out.set(`${pid}:${t.startTime}`, t.own);
  }
  return out;
}

async function freshPgUrl(cluster: PgCluster): Promise<string> {
  const c = new pg.Client({ connectionString: cluster.url });
  await c.connect();
  await c.query('CREATE DATABASE bench_ingest');
  await c.end();
  const u = new URL(cluster.url);
  u.pathname = '/bench_ingest';
  return u.toString();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-ingest-'));
  const temporal = await startDevServer();
  let cluster: PgCluster | undefined;
  const figures: Figure[] = [];
  try {
    figures.push(...(await measure('sqlite', `sqlite:${join(dir, 'ingest.db')}`, temporal)));
    try {
      cluster = await startPostgres();
    } catch (err) {
      console.warn(`PostgreSQL skipped: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (cluster) figures.push(...(await measure('postgres', await freshPgUrl(cluster), temporal)));
    report(
      'ingest',
      { quick, events: EVENTS, agentBatch: EVENT_BATCH, agent: fromSource ? 'from source (tsx)' : 'compiled' },
      figures,
    );
  } finally {
    cluster?.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
