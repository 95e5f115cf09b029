// Dagster dispatch: `launchRun` of the bench location's `noop_job` (bench/fixtures/dagster) →
// its RUN_START stored, timed on the bench's clock as bench/dispatch.ts does (the frame of the
// run's `runEvents` subscription, pushed once stored), through a real control plane (SQLite), a
// real `outpost agent` child and its own Temporal dev server; the run's first event (Dagster's
// "Started process" ENGINE event) is timed the same way. Runs are sequential (each to its end).
// Floors, same run, interleaved: (1) `dagster api execute_run` alone with the run files and
// environment the process launcher writes (dagster-run-command.ts), spawn → its first event and
// its RUN_START (the events' own timestamps), killed then; (2) raw Temporal on the same dev server,
// start workflow → its activity runs (bench/support/floors.ts). Ratio = p50 / (floor 1 + floor 2).
//   npx tsx bench/dagster-dispatch.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { dagsterPython, sampleExecuteRun, sampleGrpcStart } from './support/dagster-floors.js';
import { BENCH_DAGSTER, deployLoaded, waitRunWorkerGone } from './support/dagster-stack.js';
import { startTemporalFloor } from './support/floors.js';
import { addHistoryMarks, formatTimeline, timeline, type Marks } from './support/phase-trace.js';
import { isQuick, report, runMain, summarize, type Figure } from './support/report.js';
import { eventArrivals } from './support/run-events-sse.js';
import { startBenchSystem } from './support/stack.js';
import { until } from '../test/support/wait.js';

const quick = isQuick();
const LAUNCHES = quick ? 3 : 10;
const TEMPORAL_PER_LAUNCH = 3;
const LOCATION = 'bench_dagster';
const JOB = 'noop_job';
const TERMINAL = ['SUCCESS', 'FAILURE', 'CANCELED'];
const ms = (v: number): string => `${v.toFixed(0)} ms`;
const progress = (msg: string): void => console.error(`[dagster-dispatch] ${msg}`);

async function main(): Promise<void> {
  const python = await dagsterPython();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-dg-dispatch-'));
  const system = await startBenchSystem({ databaseUrl: `sqlite:${join(dir, 'outpost.db')}` });
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { stack } = system;
  const load = [loadavg()[0]!];
  try {
    await system.spawnAgent();
    await deployLoaded(stack, LOCATION, {
      python,
      pythonFile: BENCH_DAGSTER.file,
      workingDirectory: BENCH_DAGSTER.dir,
    });
    progress('agent ready, location loaded');
    // The launch target exactly as a code server reports it, for floor 1.
    const { target } = await sampleGrpcStart({
      python,
      pointer: { pythonFile: BENCH_DAGSTER.file },
      workingDirectory: BENCH_DAGSTER.dir,
      locationName: LOCATION,
    });
    const floor = await startTemporalFloor(system.temporal.address);
    const sseToken = await stack.cp.issueToken('user', 'bench-dagster-dispatch-sse', 'VIEWER');
    const launch = async () => {
      const t0 = Date.now();
      const id = await stack.launch(JOB, {}, LOCATION);
      const seen = await eventArrivals(stack.cp.url, sseToken, id, 'RUN_START');
      const run = await until(
        `run ${id} finished`,
        async () => {
          const r = await stack.gql<{
            run: {
              status: string;
              launchedAt: number | null;
              events: Array<{ type: string; timestamp: number; workerSeq: number | null; message: string | null }>;
            };
          }>(
            `query($id: ID!) { run(id: $id) { status launchedAt events(afterSeq: 0, first: 4) { type timestamp workerSeq message } } }`,
            {
              id,
            },
          );
          return TERMINAL.includes(r.run.status) ? r.run : undefined;
        },
        180_000,
        50,
      );
      if (run.status !== 'SUCCESS') throw new Error(`run ${id} ended ${run.status}`);
      // Nothing of this run may still run while the next sample is taken.
      await waitRunWorkerGone(id);
      // The worker's own clock: when it wrote its first event and RUN_START into the spool.
      const written = new Map<string, number>();
      for (const e of run.events) if (e.workerSeq !== null && !written.has(e.type)) written.set(e.type, e.timestamp);
      return { id, t0, seen, launchedAt: run.launchedAt, written };
    };
    // Warm-ups: the first launch pays for first-time caches in the agent and the OS.
    await launch();
    await sampleExecuteRun(target, JOB, {}, false);
    await floor.sample();
    progress('warm-ups done');

    const toStart: number[] = [];
    const toFirst: number[] = [];
    const toStarting: number[] = [];
    const f1Start: number[] = [];
    const f1First: number[] = [];
    const f1Stamped: number[] = [];
    const f1FirstTypes = new Set<string>();
    const firstTypes = new Set<string>();
    const f2: number[] = [];
    const traces: Array<{ runId: string; marks: Marks }> = [];
    let preStored = 0;
    const floor1 = async () => {
      const s = await sampleExecuteRun(target, JOB, {}, false);
      f1Start.push(s.toRunStart);
      f1First.push(s.toFirstEvent);
      f1Stamped.push(s.stamped.runStart);
      f1FirstTypes.add(s.firstEventType);
    };
    for (let i = 0; i < LAUNCHES; i++) {
      // Alternate which goes first, so neither always follows the other's teardown.
      if (i % 2 === 1) await floor1();
      const l = await launch();
      const start = l.seen.byType.get('RUN_START')!;
      if (start.at - start.openedAt <= 2) preStored++;
      toStart.push(start.at - l.t0);
      toFirst.push(l.seen.first.at - l.t0);
      firstTypes.add(l.seen.first.type);
      if (l.launchedAt !== null) toStarting.push(l.launchedAt - l.t0);
      traces.push({
        runId: l.id,
        marks: new Map([
          ['store: enqueued', l.t0],
          ['store: STARTING (reportRunLaunched)', l.launchedAt ?? NaN],
          ...[...l.written].map(([type, at]): [string, number] => [`worker: ${type} written (its clock)`, at]),
          [`store: first event (${l.seen.first.type}) stored, seen over SSE`, l.seen.first.at],
          ['store: RUN_START stored, seen over SSE', start.at],
        ]),
      });
      if (i % 2 === 0) await floor1();
      for (let k = 0; k < TEMPORAL_PER_LAUNCH; k++) f2.push((await floor.sample()).toActivity);
      progress(`launch ${i + 1}/${LAUNCHES}: RUN_START ${ms(toStart.at(-1)!)}, floor 1 ${ms(f1Start.at(-1)!)}`);
    }
    await floor.close();
    load.push(loadavg()[0]!);
    const connection = await Connection.connect({ address: system.temporal.address });
    const client = new Client({ connection });
    for (const t of traces) await addHistoryMarks(client, `run-${t.runId}`, t.marks);
    await connection.close();
    const total = summarize(toStart);
    const first = summarize(toFirst);
    const phases = timeline(traces.map((t) => t.marks)).filter((r) => r.p50 <= total.p50 * 1.5);
    console.log(['', '### where a launch spends its time (p50)', '', ...formatTimeline(phases)].join('\n'));
    const s1 = summarize(f1Start);
    const s1First = summarize(f1First);
    const s2 = summarize(f2);
    const floorSum = s1.p50 + s2.p50;
    const floorFirstSum = s1First.p50 + s2.p50;
    const figures: Figure[] = [
      {
        name: 'launchRun → RUN_START stored, p50',
        value: total.p50,
        unit: 'ms',
        note: `${total.n} sequential ${JOB} launches; p90 ${ms(total.p90)}, max ${ms(total.max)}; ${preStored} already stored when the subscription opened (upper bound)`,
      },
      {
        name: 'floor 1: execute_run alone, spawn → RUN_START in the spool, p50',
        value: s1.p50,
        unit: 'ms',
        note: `${s1.n} samples, spool polled every 5 ms; p90 ${ms(s1.p90)}, max ${ms(s1.max)}; to RUN_START's own timestamp p50 ${ms(summarize(f1Stamped).p50)} (taken before Dagster's SQLite write that precedes the spool's)`,
      },
      {
        name: 'floor 2: raw Temporal, start workflow → activity runs, p50',
        value: s2.p50,
        unit: 'ms',
        note: `${s2.n} samples, same dev server, own task queue; p90 ${ms(s2.p90)}`,
      },
      {
        name: 'dispatch p50 / (floor 1 + floor 2) p50',
        value: total.p50 / floorSum,
        unit: 'ratio',
        target: '≤ 1.2',
        note: `floors sum ${ms(floorSum)}; dispatch spends ${ms(total.p50 - floorSum)} above them`,
      },
      {
        name: `launchRun → first event stored, p50`,
        value: first.p50,
        unit: 'ms',
        note: `first event type: ${[...firstTypes].join(', ')}; p90 ${ms(first.p90)}`,
      },
      {
        name: 'floor 1′: execute_run alone, spawn → first event in the spool, p50',
        value: s1First.p50,
        unit: 'ms',
        note: `first event type: ${[...f1FirstTypes].join(', ')}`,
      },
      {
        name: 'first event p50 / (floor 1′ + floor 2) p50',
        value: first.p50 / floorFirstSum,
        unit: 'ratio',
        target: '≤ 1.2',
        note: `floors sum ${ms(floorFirstSum)}`,
      },
      {
        name: 'launchRun → worker spawned (STARTING), p50',
        value: summarize(toStarting).p50,
        unit: 'ms',
        note: 'claim + workflow + launch activity (run files written, spawn); the rest is the worker',
      },
      ...phases.map((r) => ({
        name: `phase: ${r.mark}`,
        value: r.stepP50,
        unit: 'ms',
        note: `step p50 from the previous phase; ${r.p50.toFixed(1)} ms after launchRun`,
      })),
    ];
    report(
      'dagster-dispatch',
      {
        quick,
        launches: LAUNCHES,
        job: `${BENCH_DAGSTER.file}:${JOB}`,
        python,
        store: 'sqlite',
        temporalFloorPerLaunch: TEMPORAL_PER_LAUNCH,
        floors: 'interleaved with the launches',
        loadAverage1m: load.map((v) => Number(v.toFixed(1))),
      },
      figures,
    );
  } finally {
    await system.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
