// Dagster code server start: the project's example location (examples/dagster/definitions.py)
// deployed through the control plane (`deployCodeLocation(input: {name, dagster: {...}})`) to a
// real `outpost agent` child, deploy called → the location LOADED in the store (polled every
// 5 ms; the end is the row's updated_at, the store's own time of the agent's report). Each sample
// is a fresh location name, deleted (and its server gone) before the next sample. Floor, same
// run, interleaved: `<python> -m dagster api grpc --socket …` alone on the same pointer, spawn →
// first successful ListRepositories from Node with the project's DagsterGrpcClient. LOADED also
// includes what the floor does not: the repository snapshot and one ExternalJob per job.
//   npx tsx bench/dagster-code-server.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { dagsterPython, sampleGrpcStart } from './support/dagster-floors.js';
import {
  codeServerSpawnedAt,
  deleteLocation,
  deployDagster,
  EXAMPLE_DAGSTER,
  waitCodeServerGone,
  waitLoaded,
} from './support/dagster-stack.js';
import { isQuick, report, runMain, summarize, type Figure } from './support/report.js';
import { startBenchSystem } from './support/stack.js';

const quick = isQuick();
const SAMPLES = quick ? 3 : 10;
const ms = (v: number): string => `${v.toFixed(0)} ms`;
const progress = (msg: string): void => console.error(`[dagster-code-server] ${msg}`);

async function main(): Promise<void> {
  const python = await dagsterPython();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-dg-cs-'));
  const system = await startBenchSystem({ databaseUrl: `sqlite:${join(dir, 'outpost.db')}` });
  const { stack } = system;
  const load = [loadavg()[0]!];
  const deploy = { python, pythonFile: EXAMPLE_DAGSTER.file, workingDirectory: EXAMPLE_DAGSTER.dir };
  const floorRef = {
    python,
    pointer: { pythonFile: EXAMPLE_DAGSTER.file },
    workingDirectory: EXAMPLE_DAGSTER.dir,
    locationName: 'bench_floor',
  };
  try {
    await system.spawnAgent();
    progress('agent ready');
    const agentSample = async (name: string) => {
      const t0 = Date.now();
      const version = await deployDagster(stack, name, deploy);
      const loadedAt = await waitLoaded(stack, name, version);
      const spawnedAt = codeServerSpawnedAt(name);
      await deleteLocation(stack, name);
      await waitCodeServerGone(name);
      return { total: loadedAt - t0, toSpawn: spawnedAt === undefined ? NaN : spawnedAt - t0 };
    };
    // Warm-ups: the OS file cache for the venv, the agent's first sync of a Dagster location.
    await agentSample('bench_cs_warm');
    await sampleGrpcStart(floorRef);
    progress('warm-ups done');

    const agent: number[] = [];
    const toSpawn: number[] = [];
    const floor: number[] = [];
    const floorPing: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      // Alternate which goes first, so neither always follows the other's teardown.
      const order = i % 2 === 0 ? ['agent', 'floor'] : ['floor', 'agent'];
      for (const which of order) {
        if (which === 'agent') {
          const s = await agentSample(`bench_cs_${i}`);
          agent.push(s.total);
          toSpawn.push(s.toSpawn);
        } else {
          const s = await sampleGrpcStart(floorRef);
          floor.push(s.total);
          floorPing.push(s.toPing);
        }
      }
      progress(`sample ${i + 1}/${SAMPLES}: agent ${ms(agent.at(-1)!)}, floor ${ms(floor.at(-1)!)}`);
    }
    load.push(loadavg()[0]!);
    const a = summarize(agent);
    const f = summarize(floor);
    const sp = summarize(toSpawn.filter(Number.isFinite));
    const fp = summarize(floorPing);
    const figures: Figure[] = [
      {
        name: 'deploy → LOADED stored, p50',
        value: a.p50,
        unit: 'ms',
        note: `${a.n} deploys of examples/dagster (8 jobs), each a fresh location; p90 ${ms(a.p90)}, max ${ms(a.max)}`,
      },
      {
        name: 'floor: dagster api grpc alone, spawn → first ListRepositories OK, p50',
        value: f.p50,
        unit: 'ms',
        note: `${f.n} samples, same pointer, interleaved; p90 ${ms(f.p90)}, max ${ms(f.max)}`,
      },
      {
        name: 'LOADED p50 / floor p50',
        value: a.p50 / f.p50,
        unit: 'ratio',
        target: '≤ 1.2',
        note: `the agent path spends ${ms(a.p50 - f.p50)} above the floor`,
      },
      {
        name: 'phase: deploy → code server spawned, p50',
        value: sp.p50,
        unit: 'ms',
        note: 'process start time from /proc (10 ms steps): mutation, SYNC item claimed, workflow, activity, manager',
      },
      {
        name: 'phase: spawned → LOADED stored, p50',
        value: summarize(agent.map((t, i) => t - toSpawn[i]!).filter(Number.isFinite)).p50,
        unit: 'ms',
        note: 'server start, Ping, ListRepositories, ExternalRepository, ExternalJob × jobs, report',
      },
      {
        name: 'floor phase: spawn → first Ping answered, p50',
        value: fp.p50,
        unit: 'ms',
        note: `interpreter + import dagster + the location; Ping → ListRepositories OK p50 ${ms(f.p50 - fp.p50)}`,
      },
    ];
    report(
      'dagster-code-server',
      {
        quick,
        samples: SAMPLES,
        location: 'examples/dagster/definitions.py',
        python,
        store: 'sqlite',
        floors: 'interleaved with the deploys',
        loadAverage1m: load.map((l) => Number(l.toFixed(1))),
      },
      figures,
    );
  } finally {
    await system.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
