// Temporal for tests: the one dev server the test runner started (OUTPOST_TEST_TEMPORAL_ADDRESS),
// or, when a file is run on its own, a dev server of its own that stops when the process ends.
import { after } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { startDevServer } from '../../src/shared/temporal-dev-server.js';

export interface TestTemporal {
  address: string;
  namespace: string;
  client: Client;
  /** Runs a real Worker against the dev server while `fn` runs, then shuts it down. */
  withWorker<T>(opts: Omit<WorkerOptions, 'connection' | 'namespace'>, fn: (worker: Worker) => Promise<T>): Promise<T>;
}

let shared: Promise<TestTemporal> | undefined;

export function testTemporal(): Promise<TestTemporal> {
  shared ??= connect();
  return shared;
}

async function connect(): Promise<TestTemporal> {
  // Worker state chatter drowns the test output; warnings and errors still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  let address = process.env.OUTPOST_TEST_TEMPORAL_ADDRESS;
  const namespace = process.env.OUTPOST_TEST_TEMPORAL_NAMESPACE ?? 'default';
  if (!address) {
    const server = await startDevServer();
    address = server.address;
    after(() => server.stop());
  }
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const native = await NativeConnection.connect({ address });
  after(async () => {
    await connection.close();
    await native.close();
  });
  return {
    address,
    namespace,
    client,
    async withWorker(opts, fn) {
      const worker = await Worker.create({
        shutdownGraceTime: '2s',
        shutdownForceTime: '5s',
        ...opts,
        connection: native,
        namespace,
      });
      const running = worker.run();
      try {
        return await fn(worker);
      } finally {
        worker.shutdown();
        await running;
      }
    },
  };
}

/** A task queue name unique to this test. */
export const uniqueTaskQueue = (prefix = 'test'): string =>
  `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
