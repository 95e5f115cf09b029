// The physical floors of the Dagster benchmarks, sampled in the benchmark's own run with the
// project's own pieces and nothing of the agent around them: `dagster api grpc` alone (spawn →
// first successful ListRepositories from Node, dagster-server-process.ts + dagster-grpc-client.ts),
// and `dagster api execute_run` alone with the exact files and environment the process launcher
// gives it (dagster-run-command.ts), spawn → its events in the spool.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dagsterRunCommand } from '../../src/agent/dagster/dagster-run-command.js';
import { startDagsterServer, type DagsterCodePointer } from '../../src/agent/dagster/dagster-server-process.js';
import type { DagsterTarget } from '../../src/agent/dagster/dagster-target.js';
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
    const repositoryName = list.value.repositories[0]!.name;
    return {
      total,
      toPing,
      target: {
        python: list.value.executablePath!,
        workingDirectory: loc.workingDirectory,
        codePointer: list.value.codePointers[repositoryName] as Record<string, unknown>,
        repositoryName,
        entryPoint: list.value.entryPoint,
        locationName: loc.locationName,
        ...(list.value.dagsterVersion ? { dagsterVersion: list.value.dagsterVersion } : {}),
      },
    };
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
  /** Spawn → the first event's own timestamp, ms. */
  toFirstEvent: number;
  firstEventType: string;
  /** Spawn → RUN_START's own timestamp, ms. */
  toRunStart: number;
  /** Every event in the spool (all of them when run to the end). */
  events: RunEvent[];
  /** Spawn → exit, ms (only when run to the end). */
  toExit?: number;
}

let floorRuns = 0;

/**
 * Spawns `dagster api execute_run` of `job` alone, with the run files, cwd, PYTHONPATH and
 * DAGSTER_HOME the process launcher gives it, in its own process group. `untilEnd` false: the
 * group is killed as soon as RUN_START is in the spool (a dispatch floor needs nothing after it).
 */
export async function sampleExecuteRun(
  target: DagsterTarget,
  job: string,
  runConfig: Record<string, unknown>,
  untilEnd: boolean,
): Promise<ExecuteRunSample> {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-bench-dg-run-'));
  const runId = `run_bench_floor_${process.pid}_${floorRuns++}`;
  const runDir = join(dataDir, 'runs', runId);
  const spool = join(runDir, 'spool');
  mkdirSync(spool, { recursive: true, mode: 0o700 });
  try {
    const plan = dagsterRunCommand(
      dataDir,
      runDir,
      spool,
      { runId, location: target.locationName, job, runConfig, module: '', dagster: target },
      target,
    );
    const spawnedAt = Date.now();
    const child = spawn(plan.cmd[0]!, plan.cmd.slice(1), {
      cwd: plan.place.cwd,
      env: { ...process.env, ...plan.extraEnv },
      detached: true,
      stdio: 'ignore',
    });
    const exited = new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', () => resolve(Date.now()));
    });
    let gone = false;
    void exited.then(
      () => (gone = true),
      () => (gone = true),
    );
    let events: RunEvent[] = [];
    if (untilEnd) {
      await exited;
      events = readSpoolEvents(spool);
    } else {
      for (let i = 0; !events.some((e) => e.type === 'RUN_START'); i++) {
        if (gone || i > 12_000) break;
        await new Promise((r) => setTimeout(r, 5));
        events = readSpoolEvents(spool);
      }
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const exitAt = await exited;
    const first = events[0];
    const start = events.find((e) => e.type === 'RUN_START');
    if (!first || !start) {
      throw new Error(
        `execute_run of ${job} alone wrote no RUN_START (events: ${events.map((e) => e.type).join(', ')})`,
      );
    }
    return {
      toFirstEvent: first.timestamp - spawnedAt,
      firstEventType: first.type,
      toRunStart: start.timestamp - spawnedAt,
      events,
      ...(untilEnd ? { toExit: exitAt - spawnedAt } : {}),
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
