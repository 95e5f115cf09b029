// The physical floors a dispatch is measured against, sampled in the benchmark's own run:
// a run worker started alone (`outpost api execute-run`, spawn → RUN_START written, as in
// bench/user-code.ts), and a raw Temporal round trip (start workflow → its activity runs) on
// a given dev server, with the empty workflow of bench/fixtures/temporal/ on its own task queue.
// The warm floor is a run handed to an already booted standby worker alone (send → RUN_START).
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { readEvents, startWorker } from '../../test/support/run-worker-process.js';
import { defaultCliCommand } from '../../src/agent/launchers/process-launcher.js';
import { nodeCaStore, type NodeCaStore } from '../../src/agent/launchers/node-ca.js';
import { StandbyPool } from '../../src/agent/launchers/standby-pool.js';
import { createLogger } from '../../src/shared/logger.js';
import { SPOOL_FILES } from '../../src/shared/run-events.js';
import type { StandbyRunMessage } from '../../src/shared/standby-protocol.js';

const nodeCaOption = (nodeCa: NodeCaStore | undefined): { nodeCa?: NodeCaStore } => (nodeCa ? { nodeCa } : {});

/**
 * Hands one run of `job` to a booted standby worker alone (no agent, no Temporal) and returns
 * send → RUN_START (its event timestamp), in ms: the part of a warm launch the worker owns.
 */
export async function sampleWarmWorkerStart(module: string, job: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-warm-'));
  const pool = new StandbyPool({
    dataDir: dir,
    logger: createLogger({ name: 'bench', level: 'warn' }),
    cli: defaultCliCommand(),
    env: process.env,
    perKey: 1,
    // Booted as the agent boots its standbys (src/agent/launchers/node-ca.ts).
    ...nodeCaOption(nodeCaStore(dir, process.env)),
  });
  const spec = { location: 'bench', module, cwd: process.cwd(), env: {} };
  try {
    pool.prewarm(spec);
    const sb = pool.take(spec) ?? (await pool.nextReady(spec));
    if (!sb) throw new Error('the standby worker exited before it was ready');
    pool.stop(); // no refill
    const runDir = join(dir, 'run');
    mkdirSync(runDir);
    const spoolDir = join(runDir, 'spool');
    renameSync(join(sb.dir, 'spool'), spoolDir);
    const exited = new Promise<number | null>((r) => sb.child.once('exit', (code) => r(code)));
    const sentAt = Date.now();
    const message: StandbyRunMessage = { type: 'run', runId: 'run_bench_warm', job, runConfig: {}, spoolDir };
    sb.child.send(message);
    const code = await exited;
    const first = existsSync(join(spoolDir, SPOOL_FILES.events)) ? readEvents(spoolDir)[0] : undefined;
    if (code !== 0 || first?.type !== 'RUN_START') {
      throw new Error(`warm worker for ${job} ended ${code}, first event ${JSON.stringify(first)}`);
    }
    return first.timestamp - sentAt;
  } finally {
    pool.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

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
  /** Starts `awaitSignalWorkflow` (untimed), then times one signal → workflow result, in ms. */
  sampleSignal(): Promise<number>;
  /** Starts `n` `emptyWorkflow`s at once and resolves when every one has its result (untimed). */
  batch(n: number): Promise<void>;
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
  let activities = 0;
  const native = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowsPath: resolve(import.meta.dirname, '../fixtures/temporal/workflows.ts'),
    activities: {
      empty: (): Promise<void> => {
        activityAt = performance.now();
        activities++;
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
    async batch(count) {
      const before = activities;
      await Promise.all(
        Array.from({ length: count }, () =>
          client.workflow.execute('emptyWorkflow', { taskQueue, workflowId: `${taskQueue}-${n++}` }),
        ),
      );
      if (activities - before !== count) throw new Error(`${count} workflows ran ${activities - before} activities`);
    },
    async sampleSignal() {
      const handle = await client.workflow.start('awaitSignalWorkflow', {
        taskQueue,
        workflowId: `${taskQueue}-${n++}`,
      });
      // Let its first workflow task run, so the signal lands on a waiting workflow.
      for (let i = 0; i < 100; i++) {
        const h = await handle.fetchHistory();
        if (h.events?.some((e) => e.workflowTaskCompletedEventAttributes)) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const t0 = performance.now();
      await handle.signal('go');
      await handle.result();
      return performance.now() - t0;
    },
    async close() {
      worker.shutdown();
      await running;
      await connection.close();
      await native.close();
    },
  };
}
