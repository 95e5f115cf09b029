// The dispatch burst's CPU, and the least a back-to-back launch can take on this host. The CPU
// window splits what a burst of launches cost by process (agent by thread, its cold workers and
// standbys, control plane + bench by thread, Temporal). The lower bound counts only costs the
// floors themselves pay, each measured in the same run: one Node process start (`node -e 0`: one
// process per run means every launch starts one, its own or its replacement standby's), the
// run handed to a booted compiled standby alone (ready → exit, worker-boot-cpu.ts), and raw
// Temporal's own CPU per workflow of the warm floor's shape (floor 2's empty workflow with one
// activity: the dev server plus the floor's Worker and Client in this process), from a batch of
// floor-2 samples in a quiet window, minus the same processes' idle rate measured just before.
// In a steady stream of launches each fired when the previous one's RUN_START arrives, every
// launch interval must absorb one launch's CPU on average: mean interval ≥ that CPU / cores.
// Beside it, a reference that swaps `node -e 0` for a compiled standby's own boot (the
// replacement every warm launch starts), measured in the same samples: whether a launch that is
// only that boot, the hand-off and a plain workflow already fills the target's CPU budget.
import { cpus } from 'node:os';
import { sleep } from '../../test/support/wait.js';
import { burstProcesses, runWorkerPids, threadCpu as threadCpuOf, threadCpuDelta } from './burst-processes.js';
import type { TemporalFloor } from './floors.js';
import { procTimes, TreeCpuLedger } from './proc-cpu.js';
import type { Figure } from './report.js';
import { threadCpu, threadCpuSince } from './thread-cpu.js';
import { workerBootCpu } from './worker-boot-cpu.js';

const cores = cpus().length;
const ms = (v: number): string => `${v.toFixed(1)} ms`;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** CPU (ms) from start to stop(): the agent, every process below it, this process, Temporal. */
export interface CpuWindow {
  agent: number;
  children: number;
  self: number;
  temporal: number;
  total: number;
  /** The split by process and thread, as report notes (per launch). */
  agentThreads: string;
  selfThreads: string;
  processes: ReturnType<typeof burstProcesses>;
}

/**
 * The agent's descendants (run workers, standbys, sandboxes) are sampled every 20 ms and kept
 * across their exits (proc-cpu.ts); the others are read at both ends.
 */
export function startCpuWindow(
  agentPid: number,
  temporalPid: number,
  agentDataDir: string,
  perLaunch: number,
): { stop(): CpuWindow } {
  const ledger = new TreeCpuLedger(agentPid, () => 'children');
  ledger.sample();
  const before = ledger.totals();
  const procs0 = ledger.processes();
  const agentThreads0 = threadCpuOf(agentPid);
  const selfThreads0 = threadCpu();
  const self0 = process.cpuUsage();
  const temporal0 = procTimes(temporalPid)?.own ?? 0;
  const timer = setInterval(() => ledger.sample(), 20);
  return {
    stop() {
      clearInterval(timer);
      ledger.sample();
      const after = ledger.totals();
      const selfUsage = process.cpuUsage(self0);
      const selfThreads = threadCpuSince(selfThreads0);
      const out = {
        agent: (after.self ?? 0) - (before.self ?? 0),
        children: (after.children ?? 0) - (before.children ?? 0),
        self: (selfUsage.user + selfUsage.system) / 1000,
        temporal: (procTimes(temporalPid)?.own ?? 0) - temporal0,
      };
      return {
        ...out,
        total: out.agent + out.children + out.self + out.temporal,
        agentThreads: threadCpuDelta(agentThreads0, threadCpuOf(agentPid), perLaunch),
        selfThreads: `main ${(selfThreads.mainMs / perLaunch).toFixed(1)}, other threads ${(selfThreads.otherMs / perLaunch).toFixed(1)}`,
        processes: burstProcesses(procs0, ledger.processes(), runWorkerPids(agentDataDir)),
      };
    },
  };
}

export interface BurstBound {
  /** `node -e 0`, mean CPU (ms). */
  node: number;
  /** A compiled standby handed `noop` alone, ready → exit, mean CPU (ms). */
  handoff: number;
  /** That standby's own boot alone, spawn → ready, mean CPU (ms): what each launch's replacement costs. */
  standbyBoot: number;
  /** Raw Temporal per floor-2 workflow: dev server and this process (floor Worker + Client), idle rate taken off. */
  temporalServer: number;
  temporalClient: number;
  samples: { node: number; temporal: number };
}

/** CPU of the Temporal dev server and of this process over `run`, in ms, and its wall time. */
async function cpuOver(
  temporalPid: number,
  run: () => Promise<void>,
): Promise<{ server: number; self: number; wall: number }> {
  const server0 = procTimes(temporalPid)?.own ?? 0;
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const self = process.cpuUsage(self0);
  return {
    server: (procTimes(temporalPid)?.own ?? 0) - server0,
    self: (self.user + self.system) / 1000,
    wall: performance.now() - t0,
  };
}

/**
 * Measures the bound's parts. Call it while nothing of the bench's own runs is in flight (the
 * last run's workflow closed): whatever else the window catches only adds to the idle rate
 * taken off, which can only lower the figure (a lower bound stays one).
 */
export async function measureBurstBound(
  floor: TemporalFloor,
  temporalPid: number,
  quick: boolean,
): Promise<BurstBound> {
  const nodeSamples = quick ? 5 : 10;
  const temporalSamples = quick ? 20 : 50;
  // node -e 0 and a compiled standby's hand-off, interleaved as user-code.ts measures them.
  const boot = await workerBootCpu(nodeSamples);
  const temporal = await rawTemporalCpu(temporalPid, temporalSamples, async () => {
    for (let i = 0; i < temporalSamples; i++) await floor.sample();
  });
  return {
    node: mean(boot.node),
    handoff: mean(boot.standbyRun),
    standbyBoot: mean(boot.standbyBoot),
    temporalServer: temporal.server,
    temporalClient: temporal.client,
    samples: { node: nodeSamples, temporal: temporalSamples },
  };
}

/**
 * Raw Temporal's own CPU per workflow (ms) over `run`, which completes `workflows` workflows of
 * floor 2's shape: the dev server's, and this process's (the floor's Worker and Client), each
 * less the same process's rate at rest over a second measured just before (the agent's idle
 * pollers, the control plane). Whatever else the window catches only raises the rate taken off.
 */
export async function rawTemporalCpu(
  temporalPid: number,
  workflows: number,
  run: () => Promise<void>,
): Promise<{ server: number; client: number; wall: number }> {
  const idle = await cpuOver(temporalPid, () => sleep(1_000));
  const batch = await cpuOver(temporalPid, run);
  const off = (busy: number, rest: number): number => Math.max(0, busy - (rest / idle.wall) * batch.wall) / workflows;
  return { server: off(batch.server, idle.server), client: off(batch.self, idle.self), wall: batch.wall };
}

/** The report's rows: the burst's CPU by process, and the bound against the target and the measured burst. */
export function burstCpuFigures(
  cpu: CpuWindow,
  launches: number,
  bound: BurstBound,
  burst: { p50: number; mean: number },
  warmFloorSum: number,
): Figure[] {
  const per = (v: number): number => v / launches;
  const { standbyUsed, standbyUnused, cold, other } = cpu.processes;
  const boundCpu = bound.node + bound.handoff + bound.temporalServer + bound.temporalClient;
  const boundWall = boundCpu / cores;
  return [
    {
      name: 'burst: CPU per launch, launch → run finished',
      value: per(cpu.total),
      unit: 'ms',
      note: `load-independent; agent ${ms(per(cpu.agent))}, its run workers and standbys ${ms(per(cpu.children))}, control plane + bench ${ms(per(cpu.self))}, Temporal ${ms(per(cpu.temporal))}; / ${cores} cores = ${ms(per(cpu.total) / cores)}`,
    },
    {
      name: 'burst: CPU per launch by process',
      value: per(cpu.total),
      unit: 'ms',
      note: `agent by thread (${cpu.agentThreads}); standbys handed a run ${standbyUsed.count} (${ms(per(standbyUsed.ms))}: the replacement boots of the window and the runs), standbys booted without a run ${standbyUnused.count} (${ms(per(standbyUnused.ms))}), cold workers ${cold.count} (${ms(per(cold.ms))}), sandbox processes ${other.count} (${ms(per(other.ms))}); control plane + bench by thread (${cpu.selfThreads}); Temporal dev server ${ms(per(cpu.temporal))}`,
    },
    {
      name: 'burst lower bound: unavoidable CPU per launch',
      value: boundCpu,
      unit: 'ms',
      note: `only what the floors pay, measured in this run: one Node process start (node -e 0, mean of ${bound.samples.node}: ${ms(bound.node)}) + the run handed to a booted compiled standby alone, ready → exit (${ms(bound.handoff)}) + raw Temporal per workflow of floor 2's shape (${bound.samples.temporal} floor-2 workflows back to back in a quiet window, the same processes' idle rate over a second just before taken off: dev server ${ms(bound.temporalServer)}, floor Worker + Client ${ms(bound.temporalClient)}); nothing of the agent, the control plane, a standby's boot past node -e 0, or our run workflow's extra history`,
    },
    {
      name: 'burst lower bound: / cores, the least mean back-to-back launch interval',
      value: boundWall,
      unit: 'ms',
      note: `${ms(boundCpu)} / ${cores} cores, with both cores ours alone: a steady stream of launches, each fired when the previous RUN_START arrives, absorbs one launch's CPU per interval on average; against the target 2 × warm floors = ${ms(2 * warmFloorSum)}; measured burst mean ${ms(burst.mean)}, p50 ${ms(burst.p50)}; measured CPU per launch / cores ${ms(per(cpu.total) / cores)}`,
    },
    {
      name: 'burst reference: a standby boot + hand-off + plain workflow, / cores / (2 × warm floors)',
      value: (boundCpu - bound.node + bound.standbyBoot) / cores / (2 * warmFloorSum),
      unit: 'ratio',
      note: `the bound with a compiled standby's own boot alone (${ms(bound.standbyBoot)}, spawn → ready) in place of node -e 0: what a launch costs when it is only a replacement standby's boot, the hand-off and a plain workflow with one activity (${ms(boundCpu - bound.node + bound.standbyBoot)}), over the target's CPU budget (2 × warm floors × ${cores} cores = ${ms(2 * warmFloorSum * cores)}); above 1: no room is left for the agent's and the control plane's own work`,
    },
    {
      name: 'burst lower bound / (2 × warm floors)',
      value: boundWall / (2 * warmFloorSum),
      unit: 'ratio',
      note: 'above 1: the target cannot be met with one process per run on this host; below 1: the bound does not rule it out',
    },
  ];
}
