// User-code figures: code-server cold start (spawn → READY line), GetDefinitions latency over real
// gRPC, and run-worker start-to-RUN_START (spawn → RUN_START event timestamp) for the noop job,
// all from source through tsx; then the CPU of a compiled `noop` run worker as the agent runs one
// (cold, and a standby's boot and run; bench/support/worker-boot-cpu.ts) against `node -e 0`.
//   npx tsx bench/user-code.ts [--quick]
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { isQuick, report, summarize } from './support/report.js';
import { spawnCodeServer } from '../test/support/code-server-process.js';
import { readEvents, startWorker } from '../test/support/run-worker-process.js';
import { workerBootCpu } from './support/worker-boot-cpu.js';

const quick = isQuick();
const MODULE = 'examples/hello/definitions.ts';
const coldStarts = quick ? 2 : 5;
const definitionCalls = quick ? 100 : 1000;
const workerRuns = quick ? 3 : 10;
const bootCpuSamples = quick ? 10 : 30;

/** The floor: how long `node --import tsx` takes to do nothing on this machine. */
function tsxFloorMs(): number[] {
  const samples: number[] = [];
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['--import', 'tsx', '-e', '0']);
    samples.push(performance.now() - t0);
  }
  return samples;
}

async function codeServer(): Promise<{ cold: number[]; defs: number[] }> {
  const cold: number[] = [];
  for (let i = 0; i < coldStarts; i++) {
    const t0 = performance.now();
    const cs = await spawnCodeServer(MODULE);
    cold.push(performance.now() - t0);
    await cs.stop();
  }
  const cs = await spawnCodeServer(MODULE);
  const defs: number[] = [];
  try {
    for (let i = 0; i < 20; i++) await cs.call.getDefinitions({}); // warm the channel
    for (let i = 0; i < definitionCalls; i++) {
      const t0 = performance.now();
      await cs.call.getDefinitions({});
      defs.push(performance.now() - t0);
    }
  } finally {
    await cs.stop();
  }
  return { cold, defs };
}

async function runWorker(): Promise<{ toRunStart: number[]; toExit: number[] }> {
  const toRunStart: number[] = [];
  const toExit: number[] = [];
  for (let i = 0; i < workerRuns; i++) {
    const spawnedAt = Date.now();
    const t0 = performance.now();
    const run = startWorker({ job: 'noop' });
    const { code } = await run.exit;
    toExit.push(performance.now() - t0);
    const events = readEvents(run.spoolDir);
    if (code !== 0 || events[0]?.type !== 'RUN_START') throw new Error(`noop run failed: ${JSON.stringify(events)}`);
    toRunStart.push(events[0].timestamp - spawnedAt);
    rmSync(run.spoolDir, { recursive: true, force: true });
  }
  return { toRunStart, toExit };
}

const floor = summarize(tsxFloorMs());
const cs = await codeServer();
const worker = await runWorker();
const boot = await workerBootCpu(bootCpuSamples);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const cold = summarize(cs.cold);
const defs = summarize(cs.defs);
const start = summarize(worker.toRunStart);
const exit = summarize(worker.toExit);
report('user-code', { quick, coldStarts, definitionCalls, workerRuns, bootCpuSamples, module: MODULE }, [
  { name: '`node --import tsx -e 0` (floor) p50', value: floor.p50, unit: 'ms' },
  {
    name: 'code-server cold start (spawn → READY) p50',
    value: cold.p50,
    unit: 'ms',
    note: `max ${cold.max.toFixed(0)}`,
  },
  { name: 'GetDefinitions p50', value: defs.p50, unit: 'ms' },
  { name: 'GetDefinitions p99', value: defs.p99, unit: 'ms' },
  { name: 'run worker spawn → RUN_START p50', value: start.p50, unit: 'ms', note: `max ${start.max.toFixed(0)}` },
  { name: 'run worker spawn → exit (noop) p50', value: exit.p50, unit: 'ms', note: `max ${exit.max.toFixed(0)}` },
  { name: '`node -e 0` CPU (floor), mean', value: mean(boot.node), unit: 'ms' },
  {
    name: 'compiled run worker CPU, cold noop spawn → exit, mean',
    value: mean(boot.cold),
    unit: 'ms',
    note: `${(mean(boot.cold) / mean(boot.node)).toFixed(2)}× node -e 0; linked compile cache; ${bootCpuSamples} samples of 10 ms ticks`,
  },
  { name: 'compiled standby CPU, spawn → ready, mean', value: mean(boot.standbyBoot), unit: 'ms' },
  { name: 'compiled standby CPU, run handed over → exit (noop), mean', value: mean(boot.standbyRun), unit: 'ms' },
]);
