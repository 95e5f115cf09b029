// What the Dagster benchmarks do through a real system (bench/support/stack.ts: Temporal dev
// server, control plane, `outpost agent` child): deploy a Dagster location with the user API's
// `deployCodeLocation(input: {name, dagster: {...}})`, watch it turn LOADED in the store, delete
// it, and find its `dagster api grpc` process in /proc (when it was spawned, when it is gone).
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { getLocation } from '../../src/control-plane/store/locations.js';
import type { Stack } from './stack.js';
import { sleep } from '../../test/support/wait.js';

/** The project's example location, and the benchmarks' own (noop_job, chatty_job). */
export const EXAMPLE_DAGSTER = { dir: resolve('examples/dagster'), file: 'definitions.py' };
export const BENCH_DAGSTER = { dir: resolve('bench/fixtures/dagster'), file: 'bench_location.py' };

export interface DagsterDeploy {
  python: string;
  pythonFile: string;
  workingDirectory: string;
}

/** `deployCodeLocation` with a Dagster pointer; resolves with the new version (not yet loaded). */
export async function deployDagster(stack: Stack, name: string, d: DagsterDeploy): Promise<number> {
  const r = await stack.gql<{ deployCodeLocation: { version: number } }>(
    `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { version } }`,
    { input: { name, dagster: d } },
  );
  return r.deployCodeLocation.version;
}

export async function deleteLocation(stack: Stack, name: string): Promise<void> {
  await stack.gql(`mutation($name: String!) { deleteCodeLocation(name: $name) { name } }`, { name });
}

/**
 * Polls the store every `everyMs` until `name` is LOADED at `version` (throws on ERROR) and
 * returns the row's updated_at: the store's own time of the agent's LOADED report.
 */
export async function waitLoaded(
  stack: Stack,
  name: string,
  version: number,
  everyMs = 5,
  timeoutMs = 180_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const loc = await getLocation(stack.cp.store.db, name);
    if (loc && loc.version === version) {
      if (loc.status === 'LOADED') return loc.updatedAt;
      if (loc.status === 'ERROR') throw new Error(`location ${name} v${version} ERROR: ${loc.loadError}`);
    }
    await sleep(everyMs);
  }
  throw new Error(`location ${name} v${version} not LOADED within ${timeoutMs} ms`);
}

/** Deploys and waits for LOADED; for locations the benchmark only uses. */
export async function deployLoaded(stack: Stack, name: string, d: DagsterDeploy): Promise<void> {
  await waitLoaded(stack, name, await deployDagster(stack, name, d), 50);
}

const CLK_TCK = 100;
let bootMs: number | undefined;
function bootTimeMs(): number {
  if (bootMs === undefined) {
    // /proc/uptime has 10 ms steps; /proc/stat's btime only whole seconds.
    bootMs = Date.now() - Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  }
  return bootMs;
}

/** Processes whose argv holds every one of `args`, or passes `args` as a test, with their start time (epoch ms, 10 ms steps). */
export function findProcesses(
  args: string[] | ((argv: string[]) => boolean),
): Array<{ pid: number; startedAt: number }> {
  const match = typeof args === 'function' ? args : (argv: string[]) => args.every((a) => argv.includes(a));
  const out: Array<{ pid: number; startedAt: number }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!match(argv)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Field 22 of stat (index 19 after the command): start time in clock ticks since boot.
      out.push({ pid: Number(entry), startedAt: bootTimeMs() + (Number(fields[19]) * 1000) / CLK_TCK });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The earliest start among the `dagster api grpc` processes of location `name` (a sandbox wrapper first). */
export function codeServerSpawnedAt(name: string): number | undefined {
  const found = findProcesses(['grpc', '--location-name', name]);
  return found.length ? Math.min(...found.map((p) => p.startedAt)) : undefined;
}

/** Waits until no `dagster api grpc` of location `name` is left (after a delete). */
export async function waitCodeServerGone(name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (findProcesses(['grpc', '--location-name', name]).length) {
    if (Date.now() > deadline)
      throw new Error(`the code server of ${name} still runs ${timeoutMs} ms after its delete`);
    await sleep(50);
  }
}

/**
 * Waits until no process of run `runId` is left: its `dagster api execute_run`, its sandbox and
 * its step processes (multiprocessing children, whose argv names no run) all carry
 * OUTPOST_RUN_ID in their environment. A run is SUCCESS once RUN_SUCCESS is stored, while its
 * processes still wind down for a while.
 */
export async function waitRunWorkerGone(runId: string, timeoutMs = 30_000): Promise<void> {
  const mark = `OUTPOST_RUN_ID=${runId}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = readdirSync('/proc').filter((e) => {
      if (!/^\d+$/.test(e)) return false;
      try {
        return readFileSync(`/proc/${e}/environ`, 'utf8').split('\0').includes(mark);
      } catch {
        return false;
      }
    });
    if (!left.length) return;
    if (Date.now() > deadline)
      throw new Error(`run ${runId} still has processes ${left.join(', ')} ${timeoutMs} ms after it ended`);
    await sleep(20);
  }
}
