// Starts one `<python> -m dagster api grpc` on a Unix socket and waits until it answers Ping.
// A socket, not a port: Dagster binds ports with SO_REUSEPORT, so a stale server on the same port
// would silently share it. A bare server for tests, benchmark floors and the fixture recorder; the
// agent's own servers are started by src/agent/dagster/dagster-code-server.ts (sandbox, heartbeat).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutpostError } from '../../src/shared/errors.js';
import { DagsterGrpcClient, waitForDagsterServer } from '../../src/agent/dagster/dagster-grpc-client.js';
import { readListRepositories } from '../../src/agent/dagster/serdes-readers.js';
import type { DagsterTarget } from '../../src/shared/dagster-target.js';

/** Exactly one pointer, as in Dagster's CLI. */
export type DagsterCodePointer = { pythonFile: string } | { moduleName: string } | { packageName: string };

export interface DagsterServerOptions {
  /** An interpreter that has `dagster` and the user's dependencies. */
  python: string;
  pointer: DagsterCodePointer;
  attribute?: string;
  workingDirectory: string;
  locationName: string;
  /** With Dagster's heartbeat the server exits when no client heartbeats for this many seconds. */
  heartbeatTimeoutSeconds?: number;
  env?: Record<string, string>;
  /** How long to wait for the first Ping (default 60 s, Dagster's own start timeout). */
  startTimeoutMs?: number;
}

export interface DagsterServer {
  child: ChildProcess;
  socketPath: string;
  client: DagsterGrpcClient;
  /** Spawn → first Ping answered. */
  startMs: number;
  /** The server's stderr so far (load errors and warnings land there). */
  stderr(): string;
  stop(graceMs?: number): Promise<void>;
}

function pointerArgs(p: DagsterCodePointer): string[] {
  if ('pythonFile' in p) return ['--python-file', p.pythonFile];
  if ('moduleName' in p) return ['--module-name', p.moduleName];
  return ['--package-name', p.packageName];
}

export async function startDagsterServer(o: DagsterServerOptions): Promise<DagsterServer> {
  // Socket paths are limited to ~107 bytes: keep them short and private.
  const dir = mkdtempSync(join(tmpdir(), 'outpost-dg-'));
  const socketPath = join(dir, 'grpc.sock');
  const args = [
    '-m',
    'dagster',
    'api',
    'grpc',
    '--socket',
    socketPath,
    ...pointerArgs(o.pointer),
    ...(o.attribute ? ['--attribute', o.attribute] : []),
    '--working-directory',
    o.workingDirectory,
    '--location-name',
    o.locationName,
    ...(o.heartbeatTimeoutSeconds ? ['--heartbeat', '--heartbeat-timeout', String(o.heartbeatTimeoutSeconds)] : []),
  ];
  const t0 = Date.now();
  const child = spawn(o.python, args, {
    cwd: o.workingDirectory,
    // Lazy load (as Dagster+ runs code servers): a load error is served by ListRepositories as
    // structured data instead of killing the server with only a traceback on stderr.
    env: { ...process.env, DAGSTER_CLI_API_GRPC_LAZY_LOAD_USER_CODE: '1', ...o.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-64 * 1024);
  });
  let exited = false;
  let spawnFailure: Error | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => ((exited = true), resolve()));
    // A failed spawn (interpreter not found) emits 'error' and never 'exit'.
    child.once('error', (err) => ((spawnFailure = err), (exited = true), resolve()));
  });
  const client = new DagsterGrpcClient(socketPath);
  const stop = async (graceMs = 5_000): Promise<void> => {
    client.close();
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForDagsterServer(client, o.startTimeoutMs ?? 60_000, () => !exited);
  } catch (err) {
    await stop(1_000);
    if (!exited || !(spawnFailure || child.exitCode !== null || child.signalCode)) throw err;
    // The process is gone: wrong interpreter, no dagster in it, or a crash while starting.
    const why = spawnFailure ? `cannot run ${o.python}: ${spawnFailure.message}` : lastLines(stderr, 15);
    throw new OutpostError('USER_CODE_LOAD_FAILED', {
      detail: `dagster api grpc for "${o.locationName}" exited before it answered (${child.exitCode ?? child.signalCode ?? 'spawn failed'}): ${why}`,
      cause: err,
    });
  }
  return { child, socketPath, client, startMs: Date.now() - t0, stderr: () => stderr, stop };
}

/** The end of a Python traceback holds the error itself. */
function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

type Repositories = Extract<ReturnType<typeof readListRepositories>, { ok: true }>['value'];

/** A run's launch target exactly as a code server reports it: its first repository's. */
export function launchTargetOf(list: Repositories, workingDirectory: string, locationName: string): DagsterTarget {
  const repositoryName = list.repositories[0]!.name;
  return {
    python: list.executablePath!,
    workingDirectory,
    codePointer: list.codePointers[repositoryName] as Record<string, unknown>,
    repositoryName,
    entryPoint: list.entryPoint,
    locationName,
    ...(list.dagsterVersion ? { dagsterVersion: list.dagsterVersion } : {}),
  };
}

/** Starts a server for the location, reads its launch target (ListRepositories), stops it. */
export async function dagsterLaunchTarget(o: DagsterServerOptions): Promise<DagsterTarget> {
  const server = await startDagsterServer(o);
  try {
    const list = readListRepositories(await server.client.listRepositories());
    if (!list.ok) throw new Error(`ListRepositories of ${o.locationName}: ${list.error.message}`);
    return launchTargetOf(list.value, o.workingDirectory, o.locationName);
  } finally {
    await server.stop();
  }
}
