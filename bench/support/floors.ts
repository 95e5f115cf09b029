// The physical floors a dispatch is measured against, sampled in the benchmark's own run:
// a run worker started alone (`outpost api execute-run`, spawn → RUN_START written, as in
// bench/user-code.ts), and a raw Temporal round trip (start workflow → its activity runs) on
// a given dev server, with the empty workflow of bench/fixtures/temporal/ on its own task queue.
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { readEvents, startWorker } from '../../test/integration/user-code/run-worker-process.js';

/** Spawns one run worker for `job` alone and returns spawn → RUN_START (its event timestamp), in ms. */
export async function sampleWorkerStart(module: string, job: string): Promise<number> {
  const spawnedAt = Date.now();
  const run = startWorker({ module, job, config: {} });
  try {
    const { code, signal } = await run.exit;
    const first = readEvents(run.spoolDir)[0];
    if (code !== 0 || first?.type !== 'RUN_START') {
      throw new Error(`run worker for ${job} ended ${code ?? signal}, first event ${JSON.stringify(first)}`);
    }
    return first.timestamp - spawnedAt;
  } finally {
    rmSync(resolve(run.spoolDir, '..'), { recursive: true, force: true });
  }
}

export interface TemporalFloor {
  /** Starts `emptyWorkflow` and resolves with start → activity running, and → workflow result, in ms. */
  sample(): Promise<{ toActivity: number; toResult: number }>;
  close(): Promise<void>;
}

/**
 * A Worker and a Client of our own on `address`, on a fresh task queue so nothing else's
 * tasks mix in. The activity stamps the moment it runs; the Worker is in this process, so
 * both ends read the same monotonic clock. The caller installs the Temporal Runtime first if it
 * wants a quieter logger.
 */
export async function startTemporalFloor(address: string): Promise<TemporalFloor> {
  const taskQueue = `bench-floor-${Date.now()}`;
  let activityAt: number | undefined;
  const native = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowsPath: resolve(import.meta.dirname, '../fixtures/temporal/workflows.ts'),
    activities: {
      empty: (): Promise<void> => {
        activityAt = performance.now();
        return Promise.resolve();
      },
    },
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  let n = 0;
  return {
    async sample() {
      activityAt = undefined;
      const t0 = performance.now();
      await client.workflow.execute('emptyWorkflow', { taskQueue, workflowId: `${taskQueue}-${n++}` });
      const t1 = performance.now();
      if (activityAt === undefined) throw new Error('emptyWorkflow completed without running its activity');
      return { toActivity: activityAt - t0, toResult: t1 - t0 };
    },
    async close() {
      worker.shutdown();
      await running;
      await connection.close();
      await native.close();
    },
  };
}
