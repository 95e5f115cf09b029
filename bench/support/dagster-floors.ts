// The physical floors of the Dagster benchmarks, sampled in the benchmark's own run with the
// project's own pieces and nothing of the agent around them: `dagster api grpc` alone (spawn →
// first successful ListRepositories from Node, test/support/dagster-server.ts + dagster-grpc-client.ts),
// and `dagster api execute_run` alone, spawned by the project's ProcessLauncher exactly as the
// agent spawns it (dagster-run-command.ts), spawn → its events in the spool.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessLauncher } from '../../src/agent/launchers/process-launcher.js';
import { resolveIsolation } from '../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../src/shared/logger.js';
import { launchTargetOf, startDagsterServer, type DagsterCodePointer } from '../../test/support/dagster-server.js';
import type { DagsterTarget } from '../../src/shared/dagster-target.js';
import { readListRepositories } from '../../src/agent/dagster/serdes-readers.js';
import { SPOOL_FILES, type RunEvent } from '../../src/shared/run-events.js';
import { ensureDagsterVenv } from '../../scripts/dagster-venv.js';

/** The interpreter under test: $OUTPOST_TEST_DAGSTER_PYTHON, else the cached default venv (built once). */
export async function dagsterPython(): Promise<string> {
  const fromEnv = process.env.OUTPOST_TEST_DAGSTER_PYTHON;
  if (fromEnv) return fromEnv;
  return (await ensureDagsterVenv(undefined, (l) => console.error(`[dagster-venv] ${l}`))).python;
}

export interface DagsterLocationRef {
  python: string;
  pointer: DagsterCodePointer;
  workingDirectory: string;
  locationName: string;
}

export interface GrpcStartSample {
  /** Spawn → first successful ListRepositories, ms. */
  total: number;
  /** Spawn → first Ping answered (interpreter start, `import dagster`, server up), ms. */
  toPing: number;
  /** The launch target as the server reported it (what the agent's launcher gets). */
  target: DagsterTarget;
}

/** One `dagster api grpc` alone on a Unix socket: spawn → Ping → ListRepositories OK; then stopped. */
export async function sampleGrpcStart(loc: DagsterLocationRef): Promise<GrpcStartSample> {
  const t0 = Date.now();
  const server = await startDagsterServer(loc);
  try {
    const toPing = Date.now() - t0;
    const list = readListRepositories(await server.client.listRepositories());
    const total = Date.now() - t0;
    if (!list.ok) throw new Error(`ListRepositories of ${loc.locationName}: ${list.error.message}`);
    return { total, toPing, target: launchTargetOf(list.value, loc.workingDirectory, loc.locationName) };
  } finally {
    await server.stop();
  }
}

export function readSpoolEvents(spoolDir: string): RunEvent[] {
  const file = join(spoolDir, SPOOL_FILES.events);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('}'))
    .map((l) => JSON.parse(l) as RunEvent);
}

export interface ExecuteRunSample {
  /** Spawn → the first event seen in the spool (polled every 5 ms; `untilEnd`: its own timestamp), ms. */
  toFirstEvent: number;
  firstEventType: string;
  /** Spawn → RUN_START seen in the spool (as above), ms. */
  toRunStart: number;
  /** Spawn → the first event's and RUN_START's own timestamps, ms: they are taken before the write. */
  stamped: { firstEvent: number; runStart: number };
  /** Every event in the spool (all of them when run to the end). */
  events: RunEvent[];
  /** Spawn → exit, ms (only when run to the end). */
  toExit?: number;
}

let floorRuns = 0;
const quiet = createLogger({ name: 'bench', level: 'warn' });

/**
 * Runs `dagster api execute_run` of `job` alone through the project's ProcessLauncher, as the
 * agent spawns it (run files and command from dagster-run-command.ts, scrubbed environment, own
 * process group, the sandbox `--isolation auto` picks, its data dir hidden as the agent's is), with
 * no control plane and no Temporal around it. `untilEnd` false: the group is killed as soon as
 * RUN_START is in the spool (a dispatch floor needs nothing after it).
 */
export async function sampleExecuteRun(
  target: DagsterTarget,
  job: string,
  runConfig: Record<string, unknown>,
  untilEnd: boolean,
): Promise<ExecuteRunSample> {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-bench-dg-run-'));
  const { isolation } = resolveIsolation('auto', { hideDirs: [dataDir] });
  const launcher = new ProcessLauncher({ dataDir, logger: quiet, isolation });
  const runId = `run_bench_floor_${process.pid}_${floorRuns++}`;
  try {
    const spawnedAt = Date.now();
    await launcher.launch({ runId, location: target.locationName, job, runConfig, module: '', dagster: target });
    const spool = launcher.spoolDir(runId);
    let events: RunEvent[] = [];
    // When the spool first held an event, and RUN_START: what an agent tailing it could ship.
    let firstSeenAt: number | undefined;
    let startSeenAt: number | undefined;
    for (let i = 0; ; i++) {
      events = readSpoolEvents(spool);
      if (events.length) firstSeenAt ??= Date.now();
      if (events.some((e) => e.type === 'RUN_START')) startSeenAt ??= Date.now();
      const alive = await launcher.isAlive(runId);
      if (!alive) events = readSpoolEvents(spool);
      if (!alive || (!untilEnd && events.some((e) => e.type === 'RUN_START'))) break;
      if (i > 60_000) throw new Error(`execute_run of ${job} alone still runs after 10 minutes`);
      await new Promise((r) => setTimeout(r, untilEnd ? 50 : 5));
    }
    const exitAt = Date.now();
    if (!untilEnd) await launcher.signal(runId, 'SIGKILL');
    while (await launcher.isAlive(runId)) await new Promise((r) => setTimeout(r, 20));
    const first = events[0];
    const start = events.find((e) => e.type === 'RUN_START');
    if (!first || !start) {
      throw new Error(
        `execute_run of ${job} alone wrote no RUN_START (events: ${events.map((e) => e.type).join(', ')})`,
      );
    }
    const stamped = { firstEvent: first.timestamp - spawnedAt, runStart: start.timestamp - spawnedAt };
    return {
      toFirstEvent: untilEnd ? stamped.firstEvent : firstSeenAt! - spawnedAt,
      firstEventType: first.type,
      toRunStart: untilEnd ? stamped.runStart : startSeenAt! - spawnedAt,
      stamped,
      events,
      ...(untilEnd ? { toExit: exitAt - spawnedAt } : {}),
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
