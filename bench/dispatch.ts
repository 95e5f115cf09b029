// Dispatch latency: `launchRun` → RUN_START stored, over sequential launches of the `noop` job,
// through a real control plane (SQLite), a real `outpost agent` process, its own Temporal dev
// server and real run workers. Also splits the figure at STARTING (the agent spawned the worker,
// so the rest is the worker's own boot), and reads the agent's idle RSS afterwards.
//   npx tsx bench/dispatch.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isQuick, report, summarize, type Figure } from './support/report.js';
import { HELLO_MODULE, rssMb, sleep, startBenchSystem, until } from './support/stack.js';

const quick = isQuick();
const LAUNCHES = quick ? 20 : 100;
const IDLE_SETTLE_MS = quick ? 5_000 : 15_000;

interface RunTimes {
  status: string;
  createdAt: number;
  launchedAt: number | null;
  startedAt: number | null;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-dispatch-'));
  const system = await startBenchSystem({ databaseUrl: `sqlite:${join(dir, 'outpost.db')}` });
  const { stack } = system;
  try {
    const agent = await system.spawnAgent();
    await stack.deploy('hello', HELLO_MODULE);
    // One warm-up run: the first launch pays for the worker's first workflow-task cache miss.
    const warm = await stack.launch('noop');
    await stack.waitRun(warm, ['SUCCESS', 'FAILURE', 'CANCELED']);

    const toStart: number[] = [];
    const toSpawn: number[] = [];
    const workerBoot: number[] = [];
    for (let i = 0; i < LAUNCHES; i++) {
      const t0 = Date.now();
      const id = await stack.launch('noop');
      const run = await until(
        `run ${id} finished`,
        async () => {
          const r = await stack.gql<{ run: RunTimes }>(
            `query($id: ID!) { run(id: $id) { status createdAt launchedAt startedAt } }`,
            { id },
          );
          return ['SUCCESS', 'FAILURE', 'CANCELED'].includes(r.run.status) ? r.run : undefined;
        },
        120_000,
        20,
      );
      if (run.status !== 'SUCCESS' || run.startedAt === null) throw new Error(`run ${id} ended ${run.status}`);
      toStart.push(run.startedAt - t0);
      if (run.launchedAt !== null) {
        toSpawn.push(run.launchedAt - t0);
        workerBoot.push(run.startedAt - run.launchedAt);
      }
    }
    await sleep(IDLE_SETTLE_MS);
    const rss: number[] = [];
    for (let i = 0; i < 5; i++) {
      rss.push(rssMb(agent.pid!));
      await sleep(1_000);
    }
    const total = summarize(toStart);
    const spawn = summarize(toSpawn);
    const boot = summarize(workerBoot);
    const figures: Figure[] = [
      {
        name: 'launchRun → RUN_START stored, p50',
        value: total.p50,
        unit: 'ms',
        note: `${total.n} sequential noop launches`,
      },
      { name: 'launchRun → RUN_START stored, p99', value: total.p99, unit: 'ms' },
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
        note: 'node + tsx + loading the location',
      },
      {
        name: 'agent idle RSS',
        value: rss.reduce((a, b) => a + b, 0) / rss.length,
        unit: 'MB',
        note: `after the launches, ${IDLE_SETTLE_MS / 1000}s idle, 1 location`,
      },
    ];
    report('dispatch', { quick, launches: LAUNCHES, job: 'noop', store: 'sqlite' }, figures);
  } finally {
    await system.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
