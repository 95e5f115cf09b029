// Concurrency: 200 (quick: 60) concurrent `sleepy` runs on one `outpost agent` child process.
// Reports the time from the first launch to all runs STARTED against its CPU floor, the agent's
// peak RSS and CPU while they run, and missed heartbeats: the store's lastHeartbeatAt is sampled
// every 250 ms, and any gap longer than 1.5 heartbeat intervals counts as a miss (target 0).
// Floor (same run, before the burst): a `noop` run worker started alone, as the agent starts
// one (same CLI form, no sandbox), a few times; its CPU (user + system, spawn → exit) is the
// per-worker boot CPU, and N × that / cores is the least time N boots can take on this machine.
// Where the time goes, over the start-up burst (first launch → all STARTED): the CPU each part
// used (run workers, the agent, the code server, this process = control plane + bench, the
// Temporal dev server, and the rest of the host) from /proc; how long the agent's and the
// control plane's main threads ran and how long they were runnable but waiting for a CPU
// (/proc/<pid>/task/<pid>/schedstat); and the control plane's event-loop delay (it runs in
// this process). Waiting ≫ running means starved by the scheduler, not busy.
// Beside the floor, a reference measured after the runs on the same dev server: raw Temporal's
// CPU per workflow (dev server + a Worker and Client in this process) for the same number of
// plain workflows (one activity each) started at once, so the report can say what a run that is
// only a worker boot and a plain workflow would cost against the floor, and how the agent plus
// Temporal per run compare with that plain workflow.
//   npx tsx bench/concurrency.ts [--quick] [--from-source] [--run-worker-nice N]
//     [--agent-arg A]... [--trace-file F] [--timeline F]  (F.ndjson + a 250 ms table in F.md)
// The agent runs compiled (dist/, rebuilt when stale, as `outpost agent` runs), so its run
// workers do too; --from-source runs it through tsx instead. --run-worker-nice and each
// --agent-arg are passed to the agent; --trace-file writes every stored heartbeat time.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type * as NodeCa from '../src/agent/launchers/node-ca.js';
import { isQuick, report, summarize, type Figure } from './support/report.js';
import { CLOCK_HZ, commandCpuMs, machineTicks, procTimes, schedstat, TreeCpuLedger } from './support/proc-cpu.js';
import {
  burstProcesses,
  burstProcessFigures,
  runWorkerPids,
  threadCpu,
  threadCpuDelta,
} from './support/burst-processes.js';
import { compiledCli, cpuMs, HELLO_MODULE, rssMb, startBenchSystem } from './support/stack.js';
import { startTimeline } from './support/cpu-timeline.js';
import { rawTemporalCpu } from './support/burst-cpu.js';
import { startTemporalFloor } from './support/floors.js';
import { sleep } from '../test/support/wait.js';

const quick = isQuick();
const RUNS = quick ? 60 : 200;
const SLEEP_S = quick ? 15 : 40;
const HEARTBEAT_MS = 2_000;
const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const runWorkerNice = flag('--run-worker-nice');
const traceFile = flag('--trace-file');
const timelineFile = flag('--timeline');
const fromSource = process.argv.includes('--from-source');
const agentArgs = process.argv.flatMap((a, i) => (a === '--agent-arg' ? [process.argv[i + 1]!] : []));
const FLOOR_SAMPLES = quick ? 3 : 5;
const ROOT = resolve(import.meta.dirname, '..');

/**
 * The command the agent starts a run worker with: its cli-command module's answer, taken from the
 * same tree the agent runs (dist/ when compiled), so the floor starts workers exactly as it does.
 */
async function workerCli(): Promise<string[]> {
  const mod = fromSource
    ? join(ROOT, 'src', 'shared', 'cli-command.ts')
    : join(ROOT, 'dist', 'src', 'shared', 'cli-command.js');
  const { defaultCliCommand } = (await import(pathToFileURL(mod).href)) as { defaultCliCommand: () => string[] };
  return defaultCliCommand();
}

/**
 * Per-worker boot CPU, alone: `noop` run workers one after another, CPU of each (ms), started as
 * the agent starts them: with its certificate store instead of NODE_EXTRA_CA_CERTS when that
 * applies (src/agent/launchers/node-ca.ts), so the floor never costs more than the agent's start.
 */
async function bootCpuFloor(cli: string[], dir: string): Promise<number[]> {
  const mod = fromSource
    ? join(ROOT, 'src', 'agent', 'launchers', 'node-ca.ts')
    : join(ROOT, 'dist', 'src', 'agent', 'launchers', 'node-ca.js');
  const nodeCa = (await import(pathToFileURL(mod).href)) as typeof NodeCa;
  const store = nodeCa.nodeCaStore(join(dir, 'floor-data'), process.env);
  const out: number[] = [];
  for (let i = 0; i < FLOOR_SAMPLES; i++) {
    const spool = join(dir, `floor-${i}`);
    mkdirSync(spool);
    const argv = [...cli, 'api', 'execute-run', '--run-id', `floor_${i}`, '--module', HELLO_MODULE];
    const start = nodeCa.withNodeCa(store, cli, [...argv, '--job', 'noop', '--spool-dir', spool], process.env);
    const { cpuMs, code } = await commandCpuMs(start.cmd, { env: start.env });
    if (code !== 0) throw new Error(`floor worker exited ${code}: ${argv.join(' ')}`);
    out.push(cpuMs);
  }
  return out;
}

/** A descendant of the agent: its code server, a run worker (cold or standby), or a sandbox process. */
const roleOf = (cmd: string): string =>
  cmd.includes(' code-server ') ? 'codeServer' : /^\S*bwrap /.test(cmd) ? 'sandboxes' : 'workers';

/** CPU so far (ms) of every part of the system, and of the whole host. */
function cpuByPart(agent: TreeCpuLedger, temporalPid: number, sample: () => void): Record<string, number> {
  sample();
  const tree = agent.totals();
  const t = procTimes(temporalPid);
  const self = process.cpuUsage();
  const machine = machineTicks();
  return {
    agent: tree.self ?? 0,
    workers: tree.workers ?? 0,
    sandboxes: tree.sandboxes ?? 0,
    codeServer: tree.codeServer ?? 0,
    controlPlane: (self.user + self.system) / 1000,
    temporal: t ? t.own + t.reaped : 0,
    host: (machine.busy * 1000) / CLOCK_HZ,
  };
}
const PARTS = ['workers', 'sandboxes', 'agent', 'codeServer', 'controlPlane', 'temporal'] as const;

/**
 * Raw Temporal's own CPU per workflow at the burst's size: RUNS workflows of floor 2's shape
 * (an empty workflow, one activity) started at once on the same dev server, with a Worker and
 * Client of this process (support/floors.ts), the same processes' idle rate taken off: what a
 * run's workflow costs done the plain way (a reference, not a bound: Outpost's own is cheaper on
 * the server). Measured once every run has finished, so nothing of it (nor the Temporal runtime
 * it installs in this process) is inside the burst's figures.
 */
async function rawTemporalAtBurst(
  address: string,
  temporalPid: number,
): Promise<{ server: number; client: number; wall: number }> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const floor = await startTemporalFloor(address);
  try {
    await floor.batch(Math.min(20, RUNS)); // the Worker's first tasks and connections, untimed
    return await rawTemporalCpu(temporalPid, RUNS, () => floor.batch(RUNS));
  } finally {
    await floor.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-concurrency-'));
  const sys = await startBenchSystem({
    databaseUrl: `sqlite:${join(dir, 'c.db')}`,
    storeLimits: { heartbeatIntervalMs: HEARTBEAT_MS },
  });
  try {
    // 100, not RUNS: the agent asks claimWork for all its free slots and the control plane
    // refuses a limit above maxClaimBatch (100), so a larger value stalls the poller.
    const cli = fromSource ? undefined : compiledCli();
    const child = await sys.spawnAgent(
      [
        '--max-in-flight',
        '100',
        ...(runWorkerNice !== undefined ? ['--run-worker-nice', runWorkerNice] : []),
        ...agentArgs,
      ],
      cli,
    );
    const pid = child.pid!;
    await sys.stack.deploy('hello', HELLO_MODULE);
    const floorSamples = summarize(await bootCpuFloor(await workerCli(), dir));
    const cores = cpus().length;
    const floorMs = (RUNS * floorSamples.p50) / cores;
    const temporalPid = sys.temporal.process.pid!;
    const ledger = new TreeCpuLedger(pid, roleOf);
    // The bench's own /proc sampling runs in this process, so it is inside "controlPlane":
    // measured (synchronous, so process.cpuUsage around it is its own) and reported apart.
    let samplingMs = 0;
    const sampleLedger = (): void => {
      const c0 = process.cpuUsage();
      ledger.sample();
      const c = process.cpuUsage(c0);
      samplingMs += (c.user + c.system) / 1000;
    };
    const store = sys.stack.cp.store;

    // Sampler: RSS, CPU and heartbeats, every 250 ms until stopped (the process tree's CPU every 1 s).
    let sampling = true;
    let peakRss = 0;
    let lastBeat = 0;
    let missed = 0;
    const beats: number[] = [];
    const sampler = (async () => {
      for (let i = 0; i < 100_000 && sampling; i++) {
        peakRss = Math.max(peakRss, rssMb(pid));
        // Every second: workers' CPU is read while they live (see TreeCpuLedger).
        if (i % 4 === 0) sampleLedger();
        const a = await store.db.selectFrom('agents').select('last_heartbeat_at').executeTakeFirst();
        const beat = Number(a?.last_heartbeat_at ?? 0);
        if (beat !== lastBeat) {
          if (lastBeat && beat - lastBeat > 1.5 * HEARTBEAT_MS)
            missed += Math.floor((beat - lastBeat) / HEARTBEAT_MS) - 1 || 1;
          lastBeat = beat;
          beats.push(beat);
        }
        await sleep(250);
      }
    })();

    const timeline = timelineFile
      ? await startTimeline(timelineFile, { agent: pid, cp: process.pid, temporal: temporalPid })
      : undefined;
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const agentSched0 = schedstat(pid);
    const cpSched0 = schedstat(process.pid);
    const cpu0 = cpuMs(pid);
    const load0 = loadavg()[0]!;
    const machine0 = machineTicks();
    const parts0 = cpuByPart(ledger, temporalPid, sampleLedger);
    const procs0 = ledger.processes();
    const threads0 = threadCpu(pid);
    samplingMs = 0;
    // With OUTPOST_CPU_PROFILE_DIR set and the profile preload in NODE_OPTIONS
    // (bench/support/cpu-profile.mjs), the agent and this process are profiled over the burst.
    // This process (the control plane and the bench) through node:inspector, written beside them.
    const profileDir = process.env.OUTPOST_CPU_PROFILE_DIR;
    const profiling = profileDir !== undefined;
    const session = profiling ? new Session() : undefined;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      process.kill(pid, 'SIGWINCH');
    }
    const t0 = Date.now();
    const ids: string[] = [];
    const launchedTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      ids.push(await sys.stack.launch('sleepy', { seconds: SLEEP_S }));
      launchedTimes.push(Date.now());
    }
    const launchedAt = Date.now();
    const pending = new Set(ids);
    let allStartedAt = 0;
    for (let i = 0; i < 100_000 && pending.size; i++) {
      const rows = await store.db
        .selectFrom('runs')
        .select(['id', 'status'])
        .where('id', 'in', [...pending])
        .execute();
      for (const r of rows) if (r.status !== 'QUEUED' && r.status !== 'STARTING') pending.delete(r.id);
      if (pending.size) await sleep(50);
      else allStartedAt = Date.now();
      if (Date.now() - t0 > 10 * 60_000) break;
    }
    loopDelay.disable();
    const burstS = (Date.now() - t0) / 1000;
    const agentSched = schedstat(pid);
    const cpSched = schedstat(process.pid);
    const machine1 = machineTicks();
    const parts1 = cpuByPart(ledger, temporalPid, sampleLedger);
    const samplingBurstMs = samplingMs; // the sample inside parts1 included, as controlPlane includes it
    const threads1 = threadCpu(pid);
    if (session) {
      process.kill(pid, 'SIGWINCH');
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(join(profileDir!, 'control-plane.cpuprofile'), JSON.stringify(profile));
      session.disconnect();
    }
    const spawned = burstProcesses(procs0, ledger.processes(), runWorkerPids(join(sys.stack.dataDir, 'agent')));
    if (timeline) {
      const rows = await store.db
        .selectFrom('runs')
        .select(['launched_at', 'started_at'])
        .where('id', 'in', ids)
        .execute();
      const [starting, started] = [rows.map((r) => Number(r.launched_at)), rows.map((r) => Number(r.started_at))];
      await timeline.finish({ t0, launched: launchedTimes, starting, started });
    }
    const cpuStart = cpuMs(pid);
    const tStart = Date.now();
    // Wait for all to finish (bounded), then stop sampling.
    const finished = new Map<string, string>();
    for (let i = 0; i < 100_000 && finished.size < RUNS; i++) {
      const rows = await store.db.selectFrom('runs').select(['id', 'status']).where('id', 'in', ids).execute();
      for (const r of rows) if (['SUCCESS', 'FAILURE', 'CANCELED'].includes(r.status)) finished.set(r.id, r.status);
      if (finished.size < RUNS) await sleep(250);
      if (Date.now() - t0 > 15 * 60_000) break;
    }
    const parts2 = cpuByPart(ledger, temporalPid, sampleLedger);
    // When each worker was running user code: its first STEP_START, by its own clock.
    const steps = await store.db
      .selectFrom('run_events')
      .select(['run_id', (eb) => eb.fn.min('timestamp').as('at')])
      .where('type', '=', 'STEP_START')
      .where('run_id', 'in', ids)
      .groupBy('run_id')
      .execute();
    const allStepsAt = steps.length === RUNS ? Math.max(...steps.map((r) => Number(r.at))) : NaN;
    const cpuSteady = ((cpuMs(pid) - cpuStart) / Math.max(1, Date.now() - tStart)) * 100;
    const cpuTotal = ((cpuMs(pid) - cpu0) / Math.max(1, Date.now() - t0)) * 100;
    sampling = false;
    await sampler;
    const rawTemporal = await rawTemporalAtBurst(sys.temporal.address, temporalPid);
    if (traceFile) writeFileSync(traceFile, JSON.stringify({ beats, t0, launchedAt, allStartedAt }));
    const ok = [...finished.values()].filter((s) => s === 'SUCCESS').length;
    const byStatus: Record<string, number> = { unfinished: RUNS - finished.size };
    for (const s of finished.values()) byStatus[s] = (byStatus[s] ?? 0) + 1;
    const gaps = summarize(beats.slice(1).map((b, i) => b - beats[i]!));
    const burst = `over the ${burstS.toFixed(1)} s burst (first launch → all STARTED)`;
    const toStarted = allStartedAt ? allStartedAt - t0 : NaN;
    const burstCpu = (part: string): number => (parts1[part] ?? 0) - (parts0[part] ?? 0);
    const ours = PARTS.reduce((sum, p) => sum + burstCpu(p), 0);
    const rawPerWorkflow = rawTemporal.server + rawTemporal.client;
    const perRun = (part: string): Figure => ({
      name: `CPU per run over the burst: ${part}`,
      value: burstCpu(part) / RUNS,
      unit: 'ms',
      note: `${(burstCpu(part) / 1000).toFixed(1)} s in all; whole test ${(((parts2[part] ?? 0) - (parts0[part] ?? 0)) / RUNS).toFixed(0)} ms per run`,
    });
    report(
      'concurrency',
      {
        quick,
        runs: RUNS,
        sleepSeconds: SLEEP_S,
        heartbeatIntervalMs: HEARTBEAT_MS,
        store: 'sqlite',
        runWorkerNice: runWorkerNice ?? 'agent default',
        agent: fromSource ? 'source (tsx)' : 'compiled (dist/)',
        agentArgs,
        autogroup: readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1',
      },
      [
        {
          name: 'first launch → all STARTED',
          value: toStarted,
          unit: 'ms',
          note: `${RUNS} runs; launching took ${launchedAt - t0} ms (sequential launchRun calls)`,
        },
        {
          name: 'first launch → every run executing user code',
          value: allStepsAt - t0,
          unit: 'ms',
          note: "the latest of the runs' first STEP_START (written by the worker, its clock): RUN_START, which makes a run STARTED, is written before the user's module is imported",
        },
        {
          name: 'run worker boot CPU alone (floor sample) p50',
          value: floorSamples.p50,
          unit: 'ms',
          note: `${FLOOR_SAMPLES} noop workers, spawn → exit, ${fromSource ? 'from source' : 'compiled'}, started as the agent starts them (its certificate store when it applies); max ${floorSamples.max}`,
        },
        {
          name: 'CPU floor (N × boot CPU / cores)',
          value: floorMs,
          unit: 'ms',
          note: `${RUNS} × ${floorSamples.p50} ms / ${cores}`,
        },
        {
          name: 'all STARTED / CPU floor',
          value: toStarted / floorMs,
          unit: 'ratio',
          target: '≤ 1.5',
        },
        {
          name: 'raw Temporal CPU per workflow at the burst size',
          value: rawPerWorkflow,
          unit: 'ms',
          note: `${RUNS} workflows of floor 2's shape (empty workflow, one activity) started at once on the same dev server once every run had finished, ${rawTemporal.wall.toFixed(0)} ms to all done: dev server ${rawTemporal.server.toFixed(1)} ms + the floor's Worker and Client ${rawTemporal.client.toFixed(1)} ms, each less its idle rate`,
        },
        {
          name: 'reference: (boot CPU + raw Temporal per workflow) / boot CPU',
          value: (floorSamples.p50 + rawPerWorkflow) / floorSamples.p50,
          unit: 'ratio',
          note: `a run that is only its worker's boot and a plain workflow with one activity, against the CPU floor with every core ours: it leaves ${(1.5 * floorSamples.p50 - floorSamples.p50 - rawPerWorkflow).toFixed(1)} ms per run under the 1.5 target for everything else (the control plane, the runs' events, workers slowed by sharing the cores)`,
        },
        {
          name: 'agent + Temporal per run over the burst / raw Temporal per workflow',
          value: (burstCpu('agent') + burstCpu('temporal')) / RUNS / rawPerWorkflow,
          unit: 'ratio',
          note: `the agent (${(burstCpu('agent') / RUNS).toFixed(1)} ms per run: its Temporal worker and client, launches, heartbeats, spool shipping) and the dev server (${(burstCpu('temporal') / RUNS).toFixed(1)} ms) against the plain workflow's dev server, Worker and Client (${rawPerWorkflow.toFixed(1)} ms); below 1: Outpost's orchestration of a run costs less than a plain workflow with one activity`,
        },
        {
          name: 'our CPU over the burst / cores / CPU floor',
          value: ours / cores / floorMs,
          unit: 'ratio',
          note: 'the ratio on an otherwise idle host with every core kept busy: load-independent (what the system itself costs per run vs one worker booting alone)',
        },
        ...PARTS.map(perRun).map((f) =>
          f.name.endsWith(': agent')
            ? { ...f, note: `${f.note}; by thread (ms per run): ${threadCpuDelta(threads0, threads1, RUNS)}` }
            : f,
        ),
        ...burstProcessFigures(spawned, RUNS),
        {
          name: "CPU per run over the burst: the bench's /proc sampling (inside controlPlane)",
          value: samplingBurstMs / RUNS,
          unit: 'ms',
          note: `${(samplingBurstMs / 1000).toFixed(2)} s in all: the process-tree CPU ledger, once a second, in this process; the bench's database polls (status every 50 ms, heartbeat every 250 ms) are not measured apart`,
        },
        {
          name: 'CPU over the burst: rest of the host',
          value: (burstCpu('host') - ours) / 1000,
          unit: 's',
          note: `host busy ${(burstCpu('host') / 1000).toFixed(1)} s of ${(burstS * cores).toFixed(1)} s (${cores} cores × burst); the rest is other work on the machine`,
        },
        {
          name: 'agent peak RSS',
          value: peakRss,
          unit: 'MB',
          note: 'agent process only (run workers are separate processes)',
        },
        { name: 'agent CPU, whole test', value: cpuTotal, unit: '% of a core' },
        {
          name: 'agent CPU, all runs supervised',
          value: cpuSteady,
          unit: '% of a core',
          note: 'from all STARTED to all finished',
        },
        {
          name: 'missed heartbeats',
          value: missed,
          unit: 'count',
          target: '0',
          note: `stored gaps p50 ${gaps.p50} ms, p99 ${gaps.p99} ms, max ${gaps.max} ms (interval ${HEARTBEAT_MS} ms)`,
        },
        { name: 'largest heartbeat gap', value: gaps.max, unit: 'ms', note: 'between stored lastHeartbeatAt values' },
        {
          name: 'agent main thread on a CPU',
          value: (agentSched.run - agentSched0.run) / 1000,
          unit: 's',
          note: burst,
        },
        {
          name: 'agent main thread waiting for a CPU',
          value: (agentSched.wait - agentSched0.wait) / 1000,
          unit: 's',
          note: `runnable but not scheduled, ${burst}`,
        },
        {
          name: 'control plane main thread on a CPU',
          value: (cpSched.run - cpSched0.run) / 1000,
          unit: 's',
          note: `${burst}; this process (control plane + bench polls)`,
        },
        {
          name: 'control plane main thread waiting for a CPU',
          value: (cpSched.wait - cpSched0.wait) / 1000,
          unit: 's',
          note: burst,
        },
        {
          name: 'control plane event-loop delay p99',
          value: loopDelay.percentile(99) / 1e6,
          unit: 'ms',
          note: `max ${(loopDelay.max / 1e6).toFixed(0)} ms, ${burst}`,
        },
        {
          name: 'machine CPU busy',
          value: ((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * cpus().length,
          unit: 'cores',
          note: `of ${cpus().length}, ${burst}, every process on the host; load average ${load0.toFixed(1)} at the start`,
        },
        {
          name: 'runs SUCCESS',
          value: ok,
          unit: 'runs',
          target: String(RUNS),
          note: `final statuses ${JSON.stringify(byStatus)}`,
        },
      ],
    );
  } finally {
    await sys.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
