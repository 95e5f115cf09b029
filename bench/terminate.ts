// Termination latency: `terminateRun` → run CANCELED, over sequential terminations of `sleepy`
// runs (a job that stops at once on SIGTERM), through a real control plane (SQLite), a real
// `outpost agent` process, its own Temporal dev server and real run workers. Each run is
// terminated once its step is running. Measured against two floors sampled in the same run,
// interleaved with the terminations: a `sleepy` run worker alone, SIGTERM → exit (floor 1), and
// one raw Temporal signal round trip, signal → workflow result, on the same dev server (floor 2).
// Prints where a termination spends its time: each run workflow's history (server-side event
// times) and the worker's STEP_CANCELED / RUN_CANCELED timestamps, medians over the runs.
//   npx tsx bench/terminate.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { readEvents, startWorker } from '../test/support/run-worker-process.js';
import { startTemporalFloor } from './support/floors.js';
import { addHistoryMarks, formatTimeline, timeline, type Marks } from './support/phase-trace.js';
import { isQuick, report, summarize, type Figure } from './support/report.js';
import { HELLO_MODULE, startBenchSystem } from './support/stack.js';
import { sleep, until } from '../test/support/wait.js';
import { runWorkflowId } from '../src/shared/workflow-contract.js';

const quick = isQuick();
const RUNS = quick ? 5 : 30;
const FLOOR1_SAMPLES = quick ? 3 : 15;
const FLOOR2_SAMPLES = quick ? 5 : 30;
const TERMINAL = ['SUCCESS', 'FAILURE', 'CANCELED'];

const ms = (v: number): string => `${v.toFixed(0)} ms`;

/** How many of `samples` floor samples fall after run `i`, spread evenly over the runs. */
const dueAfter = (i: number, samples: number): number =>
  Math.floor(((i + 1) * samples) / RUNS) - Math.floor((i * samples) / RUNS);

/** A `sleepy` worker alone: once its step runs, SIGTERM → process exit, in ms. */
async function sampleWorkerSigterm(): Promise<number> {
  const run = startWorker({ module: HELLO_MODULE, job: 'sleepy', config: { seconds: 600 } });
  try {
    await until(
      'the sleepy step started',
      () => Promise.resolve(readEventsSafe(run.spoolDir).some((e) => e.type === 'STEP_START') || undefined),
      60_000,
      5,
    );
    const t0 = performance.now();
    run.child.kill('SIGTERM');
    const { code, signal } = await run.exit;
    const took = performance.now() - t0;
    const last = readEvents(run.spoolDir).at(-1);
    if (last?.type !== 'RUN_CANCELED') throw new Error(`sleepy ended ${code ?? signal} with ${last?.type}`);
    return took;
  } finally {
    rmSync(resolve(run.spoolDir, '..'), { recursive: true, force: true });
  }
}

function readEventsSafe(spoolDir: string): Array<{ type: string }> {
  try {
    return readEvents(spoolDir);
  } catch {
    return []; // not written yet, or a line being written
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-terminate-'));
  const system = await startBenchSystem({ databaseUrl: `sqlite:${join(dir, 'outpost.db')}` });
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { stack } = system;
  try {
    await system.spawnAgent();
    await stack.deploy('hello', HELLO_MODULE);
    const floor = await startTemporalFloor(system.temporal.address);
    await floor.sampleSignal(); // warm-up: the floor Worker's bundle
    const config = { seconds: 600 };
    const toCanceled: number[] = [];
    const floor1: number[] = [];
    const floor2: number[] = [];
    const traces: Array<{ runId: string; marks: Marks }> = [];
    for (let i = -1; i < RUNS; i++) {
      const id = await stack.launch('sleepy', config);
      await until(
        `run ${id} step running`,
        async () => {
          const r = await stack.gql<{ run: { events: Array<{ type: string }> } }>(
            `query($id: ID!) { run(id: $id) { events { type } } }`,
            { id },
          );
          return r.run.events.some((e) => e.type === 'STEP_START') || undefined;
        },
        120_000,
        20,
      );
      const t0 = Date.now();
      await stack.gql(`mutation($id: ID!) { terminateRun(id: $id) { status } }`, { id });
      const status = await until(
        `run ${id} finished`,
        async () => {
          const r = await stack.gql<{ run: { status: string } }>(`query($id: ID!) { run(id: $id) { status } }`, {
            id,
          });
          return TERMINAL.includes(r.run.status) ? r.run.status : undefined;
        },
        120_000,
        10,
      );
      const took = Date.now() - t0;
      if (status !== 'CANCELED') throw new Error(`run ${id} ended ${status}, not CANCELED`);
      if (i < 0) continue; // warm-up: first workflow-task cache misses
      toCanceled.push(took);
      const ended = await stack.gql<{
        run: { endedAt: number | null; events: Array<{ type: string; timestamp: number }> };
      }>(`query($id: ID!) { run(id: $id) { endedAt events { type timestamp } } }`, { id });
      const at = (type: string): number => ended.run.events.find((e) => e.type === type)?.timestamp ?? NaN;
      traces.push({
        runId: id,
        marks: new Map([
          // The TERMINATE_RUN item is enqueued inside the terminateRun call.
          ['store: enqueued', t0],
          ['worker: STEP_CANCELED written (SIGTERM seen)', at('STEP_CANCELED')],
          ['worker: RUN_CANCELED written', at('RUN_CANCELED')],
          ['store: CANCELED (RUN_CANCELED stored)', ended.run.endedAt ?? NaN],
        ]),
      });
      console.error(`[terminate] run ${i + 1}/${RUNS}: ${ms(took)}`);
      for (let k = dueAfter(i, FLOOR1_SAMPLES); k > 0; k--) floor1.push(await sampleWorkerSigterm());
      for (let k = dueAfter(i, FLOOR2_SAMPLES); k > 0; k--) floor2.push(await floor.sampleSignal());
      await sleep(100);
    }
    await floor.close();
    const connection = await Connection.connect({ address: system.temporal.address });
    const client = new Client({ connection });
    for (const t of traces) {
      await addHistoryMarks(client, runWorkflowId(t.runId), t.marks);
      // Only what happened after terminateRun was called (the launch is another benchmark's).
      const t0 = t.marks.get('store: enqueued')!;
      for (const [k, v] of t.marks) if (v < t0) t.marks.delete(k);
    }
    await connection.close();
    const phases = timeline(traces.map((t) => t.marks)).filter((r) => r.p50 <= summarize(toCanceled).p50 * 2);
    console.log(
      [
        '',
        '### where a termination spends its time (p50 ms since terminateRun was called)',
        '',
        ...formatTimeline(phases),
      ].join('\n'),
    );
    const total = summarize(toCanceled);
    const f1 = summarize(floor1);
    const f2 = summarize(floor2);
    const floorSum = f1.p50 + f2.p50;
    const figures: Figure[] = [
      {
        name: 'terminateRun → CANCELED, p50',
        value: total.p50,
        unit: 'ms',
        target: '≤ 1000 ms and ≤ 2× floor',
        note: `${total.n} sequential sleepy runs, each terminated while its step runs`,
      },
      { name: 'terminateRun → CANCELED, p90', value: total.p90, unit: 'ms' },
      { name: 'terminateRun → CANCELED, p99', value: total.p99, unit: 'ms' },
      { name: 'terminateRun → CANCELED, max', value: total.max, unit: 'ms' },
      {
        name: 'floor 1: sleepy worker alone, SIGTERM → exit, p50',
        value: f1.p50,
        unit: 'ms',
        note: `${f1.n} samples; p99 ${ms(f1.p99)}, max ${ms(f1.max)}`,
      },
      {
        name: 'floor 2: raw Temporal signal → workflow result, p50',
        value: f2.p50,
        unit: 'ms',
        note: `${f2.n} samples, same dev server, own task queue; p99 ${ms(f2.p99)}, max ${ms(f2.max)}`,
      },
      {
        name: 'terminate p50 / (floor 1 + floor 2) p50',
        value: total.p50 / floorSum,
        unit: 'ratio',
        target: '≤ 2',
        note: `floors sum ${ms(floorSum)}; terminate spends ${ms(total.p50 - floorSum)} above them`,
      },
    ];
    report('terminate', { runs: RUNS, floor1Samples: FLOOR1_SAMPLES, floor2Samples: FLOOR2_SAMPLES, quick }, figures);
  } finally {
    await system.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
