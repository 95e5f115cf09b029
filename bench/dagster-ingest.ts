// Dagster ingest: one run of the bench location's `chatty_job`, whose op logs N lines (each a
// Dagster event, an Outpost LOG event), through a real control plane (SQLite), a real
// `outpost agent` child and a real `dagster api execute_run`. Measured from the run's first
// event's own timestamp (written by the worker) to the moment its last event is visible in the
// store (polled every 10 ms); checked: every event stored, worker seqs 1..M contiguous, the N
// lines in order. Floor, same run, same store: the same rows appended directly with the store's
// appendRunEvents in the agent's batch size (as bench/ingest.ts). Second floor: the producer,
// the same run by `execute_run` alone (run files as the launcher writes them), its first → last
// event timestamps: how fast Dagster itself writes these events on this machine.
//   npx tsx bench/dagster-ingest.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_BATCH } from '../src/agent/spool-shipper.js';
import { appendRunEvents, listRunEvents, type RunEventInput } from '../src/control-plane/store/run-events.js';
import { getRun } from '../src/control-plane/store/runs.js';
import { createRun } from '../src/control-plane/services/runs-service.js';
import type { Store } from '../src/control-plane/store/store.js';
import { dagsterPython, sampleExecuteRun, sampleGrpcStart } from './support/dagster-floors.js';
import { BENCH_DAGSTER, deployLoaded } from './support/dagster-stack.js';
import { isQuick, report, runMain, type Figure } from './support/report.js';
import { startBenchSystem } from './support/stack.js';
import { sleep } from '../test/support/wait.js';

const quick = isQuick();
const LINES = quick ? 2_000 : 10_000;
const LOCATION = 'bench_dagster';
const JOB = 'chatty_job';
const config = (events: number) => ({ ops: { chatter: { config: { events } } } });
const progress = (msg: string): void => console.error(`[dagster-ingest] ${msg}`);

async function maxSeq(store: Store, runId: string): Promise<number> {
  const r = await store.db
    .selectFrom('run_events')
    .select((eb) => eb.fn.max('worker_seq').as('m'))
    .where('run_id', '=', runId)
    .executeTakeFirst();
  return Number(r?.m ?? 0);
}

/** The run's worker-written events as stored, in public-seq order, as appendRunEvents takes them. */
async function storedEvents(store: Store, runId: string): Promise<RunEventInput[]> {
  const out: RunEventInput[] = [];
  for (let after = 0; ;) {
    const page = await listRunEvents(store, runId, after, 10_000);
    if (!page.length) return out;
    for (const e of page) {
      if (e.workerSeq === null) continue;
      out.push({
        seq: e.workerSeq,
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
}

/** "chatter 0" … "chatter N-1", each once, in that order. */
const linesInOrder = (rows: Array<{ type: string; message?: string | null }>, n: number): boolean => {
  const lines = rows.filter((e) => e.type === 'LOG' && /^chatter \d+$/.test(e.message ?? ''));
  return lines.length === n && lines.every((e, i) => e.message === `chatter ${i}`);
};

async function main(): Promise<void> {
  const python = await dagsterPython();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-dg-ingest-'));
  const system = await startBenchSystem({ databaseUrl: `sqlite:${join(dir, 'outpost.db')}` });
  const { stack } = system;
  const store = stack.cp.store;
  const load = [loadavg()[0]!];
  try {
    await system.spawnAgent();
    await deployLoaded(stack, LOCATION, {
      python,
      pythonFile: BENCH_DAGSTER.file,
      workingDirectory: BENCH_DAGSTER.dir,
    });
    progress('agent ready, location loaded');
    const warm = await stack.launch(JOB, config(100), LOCATION);
    await stack.waitRun(warm, ['SUCCESS'], 300_000);
    progress('warm-up run done');

    const runId = await stack.launch(JOB, config(LINES), LOCATION);
    // The last stored event is the one with the highest seq; note when that seq first appeared.
    let lastStoredAt = 0;
    let seen = 0;
    for (let i = 0; i < 120_000; i++) {
      const m = await maxSeq(store, runId);
      if (m > seen) {
        seen = m;
        lastStoredAt = Date.now();
      }
      const run = await getRun(store.db, runId);
      if (run && ['SUCCESS', 'FAILURE', 'CANCELED'].includes(run.status) && (await maxSeq(store, runId)) === seen)
        break;
      await sleep(10);
    }
    const final = await getRun(store.db, runId);
    const rows = await storedEvents(store, runId);
    const contiguous = rows.every((e, i) => e.seq === i + 1);
    const ordered = linesInOrder(rows, LINES);
    const firstAt = rows[0]!.timestamp;
    const lastWrittenAt = Math.max(...rows.map((e) => e.timestamp));
    const e2eSecs = (lastStoredAt - firstAt) / 1000;
    const e2e = rows.length / e2eSecs;
    const logs = rows.filter((e) => e.type === 'LOG');
    progress(`run ${final?.status}: ${rows.length} events in ${e2eSecs.toFixed(1)} s`);

    // Floor: the same rows, batch-appended directly into the same store.
    const { run } = await store.transaction((trx) =>
      createRun(trx, store, { location: LOCATION, job: JOB, runConfig: {}, tags: {} }),
    );
    const t0 = performance.now();
    for (let i = 0; i < rows.length; i += EVENT_BATCH)
      await appendRunEvents(store, run.id, rows.slice(i, i + EVENT_BATCH));
    const floor = rows.length / ((performance.now() - t0) / 1000);

    // Producer floor: the same run by execute_run alone (no agent, no store).
    const { target } = await sampleGrpcStart({
      python,
      pointer: { pythonFile: BENCH_DAGSTER.file },
      workingDirectory: BENCH_DAGSTER.dir,
      locationName: LOCATION,
    });
    const alone = await sampleExecuteRun(target, JOB, config(LINES), true);
    const aloneSecs = (alone.events.at(-1)!.timestamp - alone.events[0]!.timestamp) / 1000;
    const producer = alone.events.length / aloneSecs;
    const aloneOrdered = linesInOrder(alone.events, LINES);
    load.push(loadavg()[0]!);
    const figures: Figure[] = [
      {
        name: 'end to end: first event written → last event stored',
        value: e2e,
        unit: 'events/s',
        note: `${rows.length} events (${LINES} lines), status ${final?.status}, seqs contiguous: ${contiguous}, lines all stored in order: ${ordered}`,
      },
      {
        name: `floor: direct appendRunEvents, batch ${EVENT_BATCH}`,
        value: floor,
        unit: 'events/s',
        note: 'the same rows, same SQLite store',
      },
      { name: 'end to end / floor', value: e2e / floor, unit: 'ratio', target: '≥ 0.5' },
      {
        name: 'producer floor: execute_run alone, first → last event written',
        value: producer,
        unit: 'events/s',
        note: `${alone.events.length} events in ${aloneSecs.toFixed(1)} s, lines in order: ${aloneOrdered}; spawn → exit ${((alone.toExit ?? NaN) / 1000).toFixed(1)} s`,
      },
      {
        name: 'end to end / producer floor',
        value: e2e / producer,
        unit: 'ratio',
        note: 'what the agent path costs on top of Dagster',
      },
      { name: 'phase: first event → last event written (worker clock)', value: lastWrittenAt - firstAt, unit: 'ms' },
      {
        name: 'phase: first → last LOG line written (worker clock)',
        value: logs.at(-1)!.timestamp - logs[0]!.timestamp,
        unit: 'ms',
        note: `${(((logs.at(-1)!.timestamp - logs[0]!.timestamp) / logs.length) * 1000).toFixed(0)} µs per line`,
      },
      {
        name: 'phase: last event written → last event stored',
        value: lastStoredAt - lastWrittenAt,
        unit: 'ms',
        note: 'what shipping lags behind the worker at the end',
      },
    ];
    report(
      'dagster-ingest',
      {
        quick,
        lines: LINES,
        job: `${BENCH_DAGSTER.file}:${JOB}`,
        python,
        store: 'sqlite',
        agentBatch: EVENT_BATCH,
        loadAverage1m: load.map((v) => Number(v.toFixed(1))),
      },
      figures,
    );
    if (!contiguous || !ordered) process.exitCode = 1;
  } finally {
    await system.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
