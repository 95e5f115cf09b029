// A Dagster run worker whose op forks (a multiprocessing pool under Python 3.11's default start
// method, in the in-process executor) has children showing its very command line. Termination's
// SIGTERM must still reach the worker itself (run-records.ts signalRecordedGroup, proc.ts
// workerBelow), which then cancels the run within the grace; a SIGTERM to a fork of it left the
// worker sleeping until the SIGKILL. Real `dagster api grpc` and `dagster api execute_run`.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { noIsolation } from '../../../src/agent/launchers/sandbox.js';
import type { DagsterTarget } from '../../../src/shared/dagster-target.js';
import { createLogger } from '../../../src/shared/logger.js';
import { dagsterLaunchTarget } from '../../support/dagster-server.js';
import { until } from '../../support/wait.js';

const python = process.env.OUTPOST_TEST_DAGSTER_PYTHON;
const skip = python
  ? false
  : (process.env.OUTPOST_TEST_DAGSTER_SKIP_REASON ??
    'OUTPOST_TEST_DAGSTER_PYTHON is not set: run through scripts/run-tests.ts, which builds the Dagster venv');
if (skip) console.log(`# skipping the Dagster fork-termination test: ${skip}`);

const GRACE_MS = 15_000;
const LOCATION = 'forking';
const root = mkdtempSync(join(tmpdir(), 'outpost-dagster-fork-'));
const code = join(root, 'code');
const dataDir = join(root, 'data');
after(() => rmSync(root, { recursive: true, force: true }));

const DEFINITIONS = `
import multiprocessing
import time

from dagster import Definitions, OpExecutionContext, in_process_executor, job, op


@op
def pool_then_sleep(context: OpExecutionContext) -> None:
    pool = multiprocessing.get_context("fork").Pool(2)
    pool.map(abs, [1, 2])
    context.log.info("pool up")
    time.sleep(120)


@job(executor_def=in_process_executor)
def pool_job() -> None:
    pool_then_sleep()


defs = Definitions(jobs=[pool_job])
`;
import { spooledEvents as events } from '../../support/spool-events.js';

describe('a Dagster run worker with forked children', { skip }, () => {
  let target: DagsterTarget;
  before(async () => {
    mkdirSync(code, { recursive: true });
    writeFileSync(join(code, 'definitions.py'), DEFINITIONS);
    target = await dagsterLaunchTarget({
      python: python!,
      pointer: { pythonFile: 'definitions.py' },
      workingDirectory: code,
      locationName: LOCATION,
    });
  });

  test('termination reaches the worker, not a fork of it: RUN_CANCELED within the grace', async () => {
    const launcher = new ProcessLauncher({
      dataDir,
      isolation: noIsolation,
      logger: createLogger({ name: 't', level: 'warn' }),
    });
    const runId = 'dg_fork_terminate';
    await launcher.launch({ runId, location: LOCATION, job: 'pool_job', runConfig: {}, module: '', dagster: target });
    await until(
      'the pool to be up',
      () => events(launcher, runId).some((e) => e.type === 'LOG' && /pool up/.test(e.message ?? '')),
      120_000,
    );
    try {
      assert.equal(await launcher.requestTermination(runId), true);
      // What the terminate activity gives before its SIGKILL: the run must have ended by itself.
      await until(
        'the run to end by itself',
        () => events(launcher, runId).at(-1)?.type === 'RUN_CANCELED',
        GRACE_MS,
      ).catch((err: Error) => {
        throw new Error(
          `${err.message}; last events: ${JSON.stringify(
            events(launcher, runId)
              .slice(-3)
              .map((e) => e.type),
          )}`,
        );
      });
    } finally {
      for (const pid of launcher.groupMembers(runId)) process.kill(pid, 'SIGKILL');
    }
  });
});
