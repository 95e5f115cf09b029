// A real Dagster run worker for the Dagster UI test: the launch target comes from a real
// `dagster api grpc` serving examples/dagster (loaded by the agent's own loader), and a LAUNCH_RUN payload runs
// as `dagster api execute_run` through the agent's own ProcessLauncher, so the events the test
// ships are the ones Dagster and python/outpost_dagster wrote. Not a test file.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDagsterServer } from '../support/dagster-server.js';
import type { DagsterTarget } from '../../src/shared/dagster-target.js';
import { loadDagsterLocation } from '../../src/agent/dagster/dagster-load.js';
import { ProcessLauncher } from '../../src/agent/launchers/process-launcher.js';
import { noIsolation } from '../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../src/shared/logger.js';
import { SPOOL_FILES, type RunEvent } from '../../src/shared/run-events.js';
import type { WorkItemPayload } from '../../src/shared/work-items.js';
import { until } from '../support/wait.js';

const EXAMPLE = resolve('examples', 'dagster');

/** Why no real Dagster run can be made here, or undefined (the test runner sets the venv). */
export function dagsterSkipReason(): string | undefined {
  if (process.env.OUTPOST_TEST_DAGSTER_PYTHON) return undefined;
  return (
    process.env.OUTPOST_TEST_DAGSTER_SKIP_REASON ??
    'OUTPOST_TEST_DAGSTER_PYTHON is not set: run through scripts/run-tests.ts, which builds the Dagster venv'
  );
}

export interface DagsterWorker {
  /** Runs the item's job (and asset selection) to its end; the spool's events, in seq order. */
  run(payload: WorkItemPayload<'LAUNCH_RUN'>): Promise<RunEvent[]>;
  close(): Promise<void>;
}

export async function startDagsterWorker(python: string, location: string): Promise<DagsterWorker> {
  const server = await startDagsterServer({
    python,
    pointer: { pythonFile: 'definitions.py' },
    workingDirectory: EXAMPLE,
    locationName: location,
  });
  let target: DagsterTarget;
  try {
    // The agent's own loader: the target exactly as a code location hands it to the launcher.
    ({ target } = await loadDagsterLocation(server.client, {
      locationName: location,
      socketPath: server.socketPath,
      workingDirectory: EXAMPLE,
    }));
  } finally {
    await server.stop();
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-ui-dagster-'));
  const launcher = new ProcessLauncher({
    dataDir,
    isolation: noIsolation,
    logger: createLogger({ name: 'ui-dagster-worker', level: 'warn' }),
  });
  return {
    async run(p) {
      await launcher.launch({
        runId: p.runId,
        location: p.location,
        job: p.job,
        runConfig: p.runConfig,
        module: '',
        dagster: target,
        tags: p.tags,
        ...(p.assetSelection ? { assetSelection: p.assetSelection } : {}),
      });
      await until(`run ${p.runId} to exit`, async () => !(await launcher.isAlive(p.runId)), 180_000);
      await until(`run ${p.runId}'s group to empty`, () => launcher.groupMembers(p.runId).length === 0, 10_000);
      const file = join(launcher.spoolDir(p.runId), SPOOL_FILES.events);
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as RunEvent)
        .sort((a, b) => a.seq - b.seq);
    },
    close() {
      rmSync(dataDir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}
