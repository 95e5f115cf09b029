// Dispatch latency: `launchRun` → RUN_START stored, over sequential launches of the `noop` job,
// timed on the bench's clock: launchRun called → the RUN_START frame of the run's `runEvents`
// subscription arrives (pushed once stored; `run.startedAt` is the worker's own event time),
// through a real control plane (SQLite), a real `outpost agent` process, its own Temporal dev
// server and real run workers. Measured against two floors sampled in the same run, interleaved
// with the launches so they see the same machine load: a run worker spawned alone until it
// writes RUN_START (floor 1), and a raw Temporal round trip, start workflow → activity runs, on
// the same dev server (floor 2). Also splits the figure at STARTING (the agent spawned the
// worker, so the rest is the worker's own boot), and reads the agent's idle RSS afterwards.
// The agent keeps warm standby run workers (its default, --warm-run-workers 1): a launch that
// finds one ready skips floor 1 entirely, so the run also reports how many launches were warm
// and a warm floor (a run handed to a booted standby alone, send → RUN_START).
// Then a burst (bench/support/dispatch-burst.ts): 20 launches back to back, each fired as soon
// as the previous one's RUN_START arrived, against the same warm floors: can the standby pool
// keep up with launches that come faster than a worker boots? Its CPU per launch (agent, its run
// workers and standbys, control plane, Temporal; launch → run finished) is load-independent and
// split by process; beside it, a lower bound measured in the same run from what the floors alone
// pay per launch (a Node start, the warm hand-off, raw Temporal per workflow; support/burst-cpu.ts)
// divided by the cores: the least mean interval back-to-back launches can have on this host.
// The agent runs compiled (dist/, rebuilt when stale, as `outpost agent` and `npm start` run it),
// so its run workers and standbys do too; --from-source runs it through tsx instead.
//   npx tsx bench/dispatch.ts [--quick] [--from-source]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { sampleWarmWorkerStart, sampleWorkerStart, startTemporalFloor } from './support/floors.js';
import { addHistoryMarks, formatTimeline, orderOf, slowest, timeline, type Marks } from './support/phase-trace.js';
import { isQuick, report, runMain, summarize, type Figure } from './support/report.js';
import { firstEventArrival } from './support/run-events-sse.js';
import { runBurst } from './support/dispatch-burst.js';
import { burstCpuFigures, measureBurstBound, startCpuWindow } from './support/burst-cpu.js';
import { compiledCli, HELLO_MODULE, rssMb, startBenchSystem } from './support/stack.js';
import { sleep, until } from '../test/support/wait.js';
import { runWorkflowId } from '../src/shared/workflow-contract.js';

const quick = isQuick();
const fromSource = process.argv.includes('--from-source');
const LAUNCHES = quick ? 30 : 200;
const FLOOR1_SAMPLES = quick ? 10 : 50;
const FLOOR2_SAMPLES = quick ? 20 : 100;
const WARM_FLOOR_SAMPLES = quick ? 5 : 20;
/** Standbys per location for the agent under test (its default is 1). */
const WARM_WORKERS = Number(process.env.BENCH_WARM_RUN_WORKERS ?? 1);
const IDLE_SETTLE_MS = quick ? 5_000 : 15_000;
/** Back-to-back launches of the burst section (the same in quick runs: it is the target's size). */
const BURST = 20;
/** Pause before the burst, so the pool is at rest (its standby booted) when it starts. */
const BURST_SETTLE_MS = 5_000;
const TERMINAL = ['SUCCESS', 'FAILURE', 'CANCELED'];

interface RunTimes {
  status: string;
  createdAt: number;
  launchedAt: number | null;
}

/** How many of `samples` floor samples fall after launch `i`, spreading them evenly over the launches. */
const dueAfter = (i: number, samples: number): number =>
  Math.floor(((i + 1) * samples) / LAUNCHES) - Math.floor((i * samples) / LAUNCHES);

const ms = (v: number): string => `${v.toFixed(0)} ms`;
const total50 = (xs: number[]): number => summarize(xs).p50;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-dispatch-'));
  const system = await startBenchSystem({ databaseUrl: `sqlite:${join(dir, 'outpost.db')}` });
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { stack } = system;
  try {
    const agent = await system.spawnAgent(
      ['--warm-run-workers', String(WARM_WORKERS)],
      fromSource ? undefined : compiledCli(),
    );
    await stack.deploy('hello', HELLO_MODULE);
    const floor = await startTemporalFloor(system.temporal.address);
    // Warm-ups: the first launch pays for the worker's first workflow-task cache miss, the
    // first floor samples for the floor Worker's bundle and the OS file cache.
    const warm = await stack.launch('noop');
    await stack.waitRun(warm, TERMINAL);
    await floor.sample();
    await sampleWorkerStart(HELLO_MODULE, 'noop');
    // A read-only token for the runEvents subscription (the stack's own is not exposed).
    const sseToken = await stack.cp.issueToken('user', 'bench-dispatch-sse', 'VIEWER');

    const toStart: number[] = [];
    const toSpawn: number[] = [];
    const workerBoot: number[] = [];
    const floor1: number[] = [];
    const floor2: number[] = [];
    const floor2Result: number[] = [];
    const floor1Warm: number[] = [];
    let warmLaunches = 0;
    const traces: Array<{ runId: string; marks: Marks }> = [];
    let preStored = 0;
    for (let i = 0; i < LAUNCHES; i++) {
      const t0 = Date.now();
      const id = await stack.launch('noop');
      // Subscribed at once: RUN_START is timed when the control plane pushes it (stored), not
      // by its own timestamp (the worker's clock, when it was written to the spool).
      const start = await firstEventArrival(stack.cp.url, sseToken, id, 'RUN_START');
      // Already stored when the subscription opened: the figure is an upper bound for it.
      if (start.at - start.openedAt <= 2) preStored++;
      const run = await until(
        `run ${id} finished`,
        async () => {
          const r = await stack.gql<{ run: RunTimes }>(
            `query($id: ID!) { run(id: $id) { status createdAt launchedAt } }`,
            { id },
          );
          return TERMINAL.includes(r.run.status) ? r.run : undefined;
        },
        120_000,
        20,
      );
      if (run.status !== 'SUCCESS') throw new Error(`run ${id} ended ${run.status}`);
      if (start.data?.warm === true) warmLaunches++;
      toStart.push(start.at - t0);
      traces.push({
        runId: id,
        marks: new Map([
          ['store: enqueued', t0],
          ['store: STARTING (reportRunLaunched)', run.launchedAt ?? NaN],
          ['store: STARTED (RUN_START stored, seen over SSE)', start.at],
        ]),
      });
      if (run.launchedAt !== null) {
        toSpawn.push(run.launchedAt - t0);
        workerBoot.push(start.at - run.launchedAt);
      }
      for (let k = dueAfter(i, FLOOR1_SAMPLES); k > 0; k--) floor1.push(await sampleWorkerStart(HELLO_MODULE, 'noop'));
      for (let k = dueAfter(i, WARM_FLOOR_SAMPLES); k > 0; k--) {
        floor1Warm.push(await sampleWarmWorkerStart(HELLO_MODULE, 'noop'));
      }
      for (let k = dueAfter(i, FLOOR2_SAMPLES); k > 0; k--) {
        const s = await floor.sample();
        floor2.push(s.toActivity);
        floor2Result.push(s.toResult);
      }
    }
    // Where a launch's time goes: each run workflow's history (server-side event times) between
    // the launchRun call and the store's STARTING / STARTED, medians over every launch.
    const connection = await Connection.connect({ address: system.temporal.address });
    const client = new Client({ connection });
    for (const t of traces) await addHistoryMarks(client, runWorkflowId(t.runId), t.marks);
    const phases = timeline(traces.map((t) => t.marks)).filter((r) => r.p50 <= total50(toStart) * 1.5);
    console.log(
      [
        '',
        '### where a launch spends its time (p50 over launches)',
        '',
        ...formatTimeline(phases),
        '',
        '### the slowest launches (the tail), each mark in ms since launchRun',
        '',
        ...slowest(traces, 3),
      ].join('\n'),
    );
    // The burst's lower bound, in a quiet window: the last run's workflow closed first.
    await sleep(2_000);
    const bound = await measureBurstBound(floor, system.temporal.process.pid!, quick);
    await floor.close();
    await sleep(BURST_SETTLE_MS);
    const burstCpu = startCpuWindow(agent.pid!, system.temporal.process.pid!, join(stack.dataDir, 'agent'), BURST);
    const burstRun = await runBurst(stack, sseToken, 'noop', BURST);
    const burstCpuMs = burstCpu.stop();
    for (const t of burstRun.traces) await addHistoryMarks(client, runWorkflowId(t.runId), t.marks);
    await connection.close();
    const burstPhases = timeline(burstRun.traces.map((t) => t.marks)).filter(
      (r) => r.p50 <= total50(burstRun.toStart) * 1.5,
    );
    console.log(
      [
        '',
        `### burst: where a back-to-back launch spends its time (p50 over ${BURST})`,
        '',
        ...formatTimeline(burstPhases),
        '',
        `burst launchRun → RUN_START per launch (ms, w = warm): ${burstRun.toStart.map((v, i) => `${v}${burstRun.warm[i] ? 'w' : ''}`).join(' ')}`,
      ].join('\n'),
    );
    await sleep(IDLE_SETTLE_MS);
    const rss: number[] = [];
    for (let i = 0; i < 5; i++) {
      rss.push(rssMb(agent.pid!));
      await sleep(1_000);
    }
    // RUN_START goes with the launch report (a warm worker wrote it before it accepted the run):
    // whether it was stored before supervision was even scheduled, per launch made inside the
    // first workflow task (one made by the launchRun activity has supervision scheduled beside it).
    const inTask = (ts: Array<{ marks: Marks }>): Marks[] =>
      ts.map((t) => t.marks).filter((m) => !m.has('temporal: ActivityTaskScheduled launchRun'));
    const STARTED = 'store: STARTED (RUN_START stored, seen over SSE)';
    const SUPERVISE = 'temporal: ActivityTaskScheduled superviseRun';
    const startedFirst = orderOf(inTask(traces), STARTED, SUPERVISE);
    const burstStartedFirst = orderOf(inTask(burstRun.traces), STARTED, SUPERVISE);
    const total = summarize(toStart);
    const spawn = summarize(toSpawn);
    const boot = summarize(workerBoot);
    const f1 = summarize(floor1);
    const f2 = summarize(floor2);
    const f2Result = summarize(floor2Result);
    const f1w = summarize(floor1Warm);
    const floorSum = f1.p50 + f2.p50;
    const warmFloorSum = f1w.p50 + f2.p50;
    const burst = summarize(burstRun.toStart);
    const figures: Figure[] = [
      {
        name: 'launchRun → RUN_START stored, p50',
        value: total.p50,
        unit: 'ms',
        target: '≤ 150 ms',
        note: `${total.n} sequential noop launches; RUN_START timed on arrival over the runEvents subscription (${preStored} already stored when it opened: upper bound)`,
      },
      { name: 'launchRun → RUN_START stored, p90', value: total.p90, unit: 'ms' },
      { name: 'launchRun → RUN_START stored, p99', value: total.p99, unit: 'ms', target: '≤ 400 ms' },
      { name: 'launchRun → RUN_START stored, max', value: total.max, unit: 'ms' },
      {
        name: 'floor 1: run worker alone, spawn → RUN_START, p50',
        value: f1.p50,
        unit: 'ms',
        note: `${f1.n} samples; p90 ${ms(f1.p90)}, p99 ${ms(f1.p99)}, max ${ms(f1.max)}`,
      },
      {
        name: 'floor 2: raw Temporal, start workflow → activity runs, p50',
        value: f2.p50,
        unit: 'ms',
        note: `${f2.n} samples, same dev server, own task queue; p90 ${ms(f2.p90)}, p99 ${ms(f2.p99)}, max ${ms(f2.max)}; to workflow result p50 ${ms(f2Result.p50)}`,
      },
      {
        name: 'dispatch p50 / (floor 1 + floor 2) p50',
        value: total.p50 / floorSum,
        unit: 'ratio',
        note: `floors sum ${ms(floorSum)}; dispatch spends ${ms(total.p50 - floorSum)} above them`,
      },
      {
        name: 'floor 1w: run handed to a booted standby alone, send → RUN_START, p50',
        value: f1w.p50,
        unit: 'ms',
        note: `${f1w.n} samples; p90 ${ms(f1w.p90)}, max ${ms(f1w.max)}`,
      },
      {
        name: 'dispatch p50 / (floor 1w + floor 2) p50',
        value: total.p50 / warmFloorSum,
        unit: 'ratio',
        target: '≤ 1.5',
        note: `warm floors sum ${ms(warmFloorSum)}; dispatch spends ${ms(total.p50 - warmFloorSum)} above them`,
      },
      {
        name: 'dispatch p99 / (floor 1w + floor 2) p50',
        value: total.p99 / warmFloorSum,
        unit: 'ratio',
        target: '≤ 3',
        note: `p99 ${ms(total.p99)} against the warm floors' p50 sum ${ms(warmFloorSum)}`,
      },
      {
        name: 'burst: launchRun → RUN_START stored, p50',
        value: burst.p50,
        unit: 'ms',
        note: `${burst.n} launches back to back, each fired when the previous RUN_START arrived (${burstRun.preStored} already stored when its subscription opened: upper bound); p90 ${ms(burst.p90)}, p99 ${ms(burst.p99)}, max ${ms(burst.max)}`,
      },
      {
        name: 'burst p50 / (floor 1w + floor 2) p50',
        value: burst.p50 / warmFloorSum,
        unit: 'ratio',
        target: '≤ 2',
        note: `burst spends ${ms(burst.p50 - warmFloorSum)} above the warm floors`,
      },
      ...burstCpuFigures(burstCpuMs, BURST, bound, { p50: burst.p50, mean: burst.mean }, warmFloorSum),
      {
        name: 'burst launches handed to a warm standby',
        value: burstRun.warm.filter(Boolean).length,
        unit: 'runs',
        note: `of ${BURST}; counts a standby the launch had to wait for while it booted (the per-launch times show those)`,
      },
      ...burstPhases.map((r) => ({
        name: `burst phase: ${r.mark}`,
        value: r.stepP50,
        unit: 'ms',
        note: `step p50 from the previous phase; ${r.p50.toFixed(1)} ms after launchRun`,
      })),
      {
        name: 'launches handed to a warm standby',
        value: warmLaunches,
        unit: 'runs',
        note: `of ${LAUNCHES}; agent --warm-run-workers ${WARM_WORKERS}; the rest spawned cold`,
      },
      {
        name: 'launches in the first task whose RUN_START was stored before superviseRun was scheduled',
        value: startedFirst.before,
        unit: 'runs',
        note: `of ${startedFirst.both} launched in the first workflow task (burst: ${burstStartedFirst.before} of ${burstStartedFirst.both}; launches through the launchRun activity have supervision scheduled beside them and are not counted); RUN_START is timed on its SSE frame's arrival, a hop after it is stored, so one counted as later may still have been stored first (run-lifecycle.test.ts checks the order in the agent); the launch report carries a warm worker's RUN_START`,
      },
      {
        name: 'launchRun → worker spawned (STARTING), p50',
        value: spawn.p50,
        unit: 'ms',
        note: 'claim + workflow + launch activity',
      },
      { name: 'launchRun → worker spawned (STARTING), p99', value: spawn.p99, unit: 'ms' },
      {
        name: 'worker boot (STARTING → RUN_START), p50',
        value: boot.p50,
        unit: 'ms',
        note: 'warm: handoff + RUN_START shipped and stored; cold: node + tsx + loading the location too',
      },
      ...phases.map((r) => ({
        name: `phase: ${r.mark}`,
        value: r.stepP50,
        unit: 'ms',
        note: `step p50 from the previous phase; ${r.p50.toFixed(1)} ms after launchRun`,
      })),
      {
        name: 'agent idle RSS',
        value: rss.reduce((a, b) => a + b, 0) / rss.length,
        unit: 'MB',
        note: `after the launches, ${IDLE_SETTLE_MS / 1000}s idle, 1 location (its standby worker is a separate process)`,
      },
    ];
    report(
      'dispatch',
      {
        quick,
        agent: fromSource ? 'from source (tsx)' : 'compiled',
        launches: LAUNCHES,
        floor1Samples: FLOOR1_SAMPLES,
        floor2Samples: FLOOR2_SAMPLES,
        warmFloorSamples: WARM_FLOOR_SAMPLES,
        warmRunWorkers: WARM_WORKERS,
        job: 'noop',
        store: 'sqlite',
        floors: 'interleaved with the launches',
        burst: BURST,
      },
      figures,
    );
  } finally {
    await system.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
