// Throughput: no-op EVALUATE_SENSOR work items end to end (enqueue in the store → agent claims →
// workflow → gRPC evaluation in the code server → completeWork stored), with 1, 8 and 64 items
// outstanding at a time. Floor, same run, same Temporal server: raw Temporal, the same number of
// empty workflows with one empty activity each, at the same concurrency.
//   npx tsx bench/throughput.ts [--quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { enqueueWork } from '../src/control-plane/store/work-items.js';
import type { Store } from '../src/control-plane/store/store.js';
import * as emptyActivities from './fixtures/temporal/activities.js';
import { isQuick, report, type Figure } from './support/report.js';
import { sleep, startBenchSystem } from './support/stack.js';

const quick = isQuick();
const LEVELS = [1, 8, 64];
const ITEMS: Record<number, number> = quick ? { 1: 30, 8: 120, 64: 256 } : { 1: 200, 8: 800, 64: 2000 };

/** Keeps `concurrency` items outstanding until `total` completed; returns items/s. */
async function pumpOutpost(
  store: Store,
  concurrency: number,
  total: number,
): Promise<{ rate: number; failed: number }> {
  const outstanding = new Set<string>();
  let started = 0;
  let done = 0;
  let failed = 0;
  const enqueue = async (): Promise<void> => {
    const { item } = await enqueueWork(store, {
      kind: 'EVALUATE_SENSOR',
      payload: { location: 'bench', sensor: 'noop_sensor' },
    });
    outstanding.add(item.id);
    started++;
  };
  const t0 = performance.now();
  while (started < Math.min(concurrency, total)) await enqueue();
  for (let i = 0; i < 1_000_000 && done < total; i++) {
    const rows = await store.db
      .selectFrom('work_items')
      .select(['id', 'status'])
      .where('id', 'in', [...outstanding])
      .where('status', 'in', ['COMPLETED', 'FAILED'])
      .execute();
    for (const r of rows) {
      outstanding.delete(r.id);
      done++;
      if (r.status === 'FAILED') failed++;
      if (started < total) await enqueue();
    }
    if (!rows.length) await sleep(2);
  }
  return { rate: total / ((performance.now() - t0) / 1000), failed };
}

async function pumpTemporal(client: Client, taskQueue: string, concurrency: number, total: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      await client.workflow.execute('emptyWorkflow', { taskQueue, workflowId: `${taskQueue}-${concurrency}-${i}` });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return total / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-throughput-'));
  const sys = await startBenchSystem({ databaseUrl: `sqlite:${join(dir, 'tp.db')}` });
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const figures: Figure[] = [];
  try {
    await sys.spawnAgent(['--max-in-flight', '64']);
    await sys.stack.deploy('bench', resolve('bench/fixtures/bench-location.ts'));
    const store = sys.stack.cp.store;
    await pumpOutpost(store, 4, 20); // warm-up: code paths, gRPC channel, workflow cache

    const taskQueue = `bench-raw-${Date.now()}`;
    const native = await NativeConnection.connect({ address: sys.temporal.address });
    const worker = await Worker.create({
      connection: native,
      taskQueue,
      workflowsPath: resolve('bench/fixtures/temporal/workflows.ts'),
      activities: emptyActivities,
    });
    const running = worker.run();
    const connection = await Connection.connect({ address: sys.temporal.address });
    const client = new Client({ connection });
    await pumpTemporal(client, taskQueue, 4, 20); // warm-up

    for (const c of LEVELS) {
      const n = ITEMS[c]!;
      const outpost = await pumpOutpost(store, c, n);
      const raw = await pumpTemporal(client, taskQueue, c, n);
      figures.push(
        {
          name: `outpost, concurrency ${c}`,
          value: outpost.rate,
          unit: 'items/s',
          note: `${n} no-op sensor evaluations, ${outpost.failed} failed`,
        },
        {
          name: `raw Temporal, concurrency ${c}`,
          value: raw,
          unit: 'workflows/s',
          note: `${n} empty workflow + empty activity`,
        },
        {
          name: `outpost / raw Temporal, concurrency ${c}`,
          value: outpost.rate / raw,
          unit: 'ratio',
          target: '≥ 0.70',
        },
      );
    }
    worker.shutdown();
    await running;
    await connection.close();
    await native.close();
    report(
      'throughput',
      { quick, levels: LEVELS, items: ITEMS, store: 'sqlite', agent: 'child process, --max-in-flight 64' },
      figures,
    );
  } finally {
    await sys.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
