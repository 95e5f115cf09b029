// One Dagster code server of the agent's code-server manager: `<python> -m dagster api grpc` on a
// Unix socket in an agent-owned directory (not a port: Dagster binds ports with SO_REUSEPORT, so a
// stale server would silently share one), in its own process group, with the credential-free
// child environment plus the location's env. Started with Dagster's `--heartbeat`, and the agent
// calls Heartbeat every few seconds, so a server whose agent died (even kill -9) exits by itself;
// the pid record (code-server-orphans.ts) covers the time until then.
// Start = spawn, wait on Ping, then load (dagster-load.ts). Health = ListRepositories.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../../shared/logger.js';
import { OutpostError, isOutpostError } from '../../shared/errors.js';
import type { CodeLocationSpec, DagsterLocation } from '../../shared/work-items.js';
import { DagsterGrpcClient, waitForDagsterServer } from './dagster-grpc-client.js';
import { describeLoadError, loadDagsterLocation, type DagsterLoaded } from './dagster-load.js';
import { readListRepositories } from './serdes-readers.js';

export interface DagsterCodeServerOptions {
  /** Agent-owned directory for the sockets (short: socket paths are limited to ~107 bytes). */
  socketDir: string;
  /** Environment of the server: already credential-free, with the location's env added. */
  env: NodeJS.ProcessEnv;
  /** Spawn → loaded at most this long (an import that never ends is a load error). */
  startTimeoutMs: number;
  /** `--heartbeat-timeout`: the server exits when no Heartbeat arrives for this long. */
  heartbeatTimeoutSeconds: number;
  logger: Logger;
}

/** The pointer flags of `dagster api grpc`. */
export function dagsterPointerArgs(d: DagsterLocation): string[] {
  const pointer = d.pythonFile
    ? ['--python-file', d.pythonFile]
    : d.moduleName
      ? ['--module-name', d.moduleName]
      : ['--package-name', d.packageName!];
  return [...pointer, ...(d.attribute ? ['--attribute', d.attribute] : [])];
}

/** The location's working directory: dagster.workingDirectory, else the spec's, else the agent's cwd. */
export function dagsterWorkingDirectory(spec: CodeLocationSpec): string {
  const dir = spec.dagster?.workingDirectory ?? spec.workingDirectory;
  return dir ? resolve(dir) : process.cwd();
}

/**
 * Unique per spawn: a server being stopped removes its socket file once gone, which must never be
 * the file of its replacement for the same version.
 */
function socketPathFor(dir: string, location: string, version: number): string {
  const name = `${location}.${version}.${randomBytes(3).toString('hex')}.sock`;
  const path = join(dir, name);
  if (Buffer.byteLength(path) <= 100) return path;
  return join(dir, `${createHash('sha256').update(name).digest('hex').slice(0, 16)}.sock`);
}

export class DagsterCodeServer {
  readonly flavour = 'dagster' as const;
  exited = false;
  loaded: DagsterLoaded | undefined;
  readonly client: DagsterGrpcClient;
  private output = '';
  private spawnFailure: Error | undefined;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly exitPromise: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly socketPath: string,
    readonly version: number,
    readonly locationName: string,
    readonly workingDirectory: string,
    heartbeatSeconds: number,
  ) {
    this.client = new DagsterGrpcClient(socketPath);
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString('utf8')).slice(-16_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exitPromise = new Promise((res) => {
      child.once('exit', () => ((this.exited = true), res()));
      // A failed spawn (no such interpreter) emits 'error' and never 'exit'.
      child.once('error', (err) => ((this.spawnFailure = err), (this.exited = true), res()));
    });
    // Several beats per timeout, so one slow beat never lets the server give up on us.
    const everyMs = Math.min(5_000, Math.max(1_000, (heartbeatSeconds * 1000) / 4));
    this.heartbeatTimer = setInterval(() => {
      if (!this.exited) this.client.heartbeat(everyMs).catch(() => undefined);
    }, everyMs);
    this.heartbeatTimer.unref();
    void this.exitPromise.then(() => clearInterval(this.heartbeatTimer));
  }

  /**
   * Spawns the server for one location version; `started` gets the child before any await (pid
   * record, tracking). Resolves once it answers Ping; `load()` then reads its definitions.
   */
  static spawn(
    o: DagsterCodeServerOptions,
    spec: CodeLocationSpec & { dagster: DagsterLocation },
    version: number,
    started: (child: ChildProcess) => void,
  ): DagsterCodeServer {
    mkdirSync(o.socketDir, { recursive: true, mode: 0o700 });
    const socketPath = socketPathFor(o.socketDir, spec.name, version);
    const cwd = dagsterWorkingDirectory(spec);
    const args = [
      '-m',
      'dagster',
      'api',
      'grpc',
      '--socket',
      socketPath,
      '--heartbeat',
      '--heartbeat-timeout',
      String(Math.max(1, Math.round(o.heartbeatTimeoutSeconds))),
      '--location-name',
      spec.name,
      ...dagsterPointerArgs(spec.dagster),
      '--working-directory',
      cwd,
    ];
    // A path is taken relative to the agent's cwd (not the server's); a bare name goes through PATH.
    const python = spec.dagster.python.includes('/') ? resolve(spec.dagster.python) : spec.dagster.python;
    const child = spawn(python, args, {
      cwd,
      // Own process group: the agent's terminal signals never reach it; stop() signals the group.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...o.env,
        // Lazy load (as Dagster+ runs code servers): a load error is served by ListRepositories
        // as structured data instead of ending the process with only a traceback.
        DAGSTER_CLI_API_GRPC_LAZY_LOAD_USER_CODE: '1',
        PYTHONUNBUFFERED: '1',
      },
    });
    started(child);
    return new DagsterCodeServer(child, socketPath, version, spec.name, cwd, o.heartbeatTimeoutSeconds);
  }

  /** Waits for Ping, then loads; throws a coded error whose detail is the Python error text. */
  async start(startTimeoutMs: number): Promise<DagsterLoaded> {
    const t0 = Date.now();
    try {
      await waitForDagsterServer(this.client, startTimeoutMs, () => !this.exited);
    } catch (err) {
      if (this.spawnFailure) {
        throw new OutpostError('USER_CODE_LOAD_FAILED', {
          detail: `cannot run the Dagster interpreter: ${this.spawnFailure.message}`,
          cause: err,
        });
      }
      if (this.exited) {
        // Gone before it answered: no dagster in that interpreter, or a crash while importing.
        await this.exitPromise;
        throw new OutpostError('USER_CODE_LOAD_FAILED', {
          detail: `dagster api grpc exited (${this.child.exitCode ?? this.child.signalCode}) before it answered:\n${this.outputTail()}`,
          cause: err,
        });
      }
      throw new OutpostError('USER_CODE_LOAD_FAILED', {
        detail: `the code server did not finish loading within ${startTimeoutMs} ms (does importing the location hang?)${this.outputTail() ? `\n${this.outputTail()}` : ''}`,
        cause: err,
      });
    }
    const left = Math.max(1_000, startTimeoutMs - (Date.now() - t0));
    const loaded = await withDeadline(
      loadDagsterLocation(this.client, {
        locationName: this.locationName,
        socketPath: this.socketPath,
        workingDirectory: this.workingDirectory,
      }),
      left,
      `loading the definitions took longer than ${startTimeoutMs} ms`,
    );
    this.loaded = loaded;
    return loaded;
  }

  /** ListRepositories: throws when the server does not answer or answers an error. */
  async checkHealth(timeoutMs: number): Promise<void> {
    const r = readListRepositories(await this.client.listRepositories(timeoutMs));
    if (!r.ok) throw new OutpostError('USER_CODE_LOAD_FAILED', { detail: describeLoadError(r.error) });
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 3_000): Promise<void> {
    clearInterval(this.heartbeatTimer);
    this.client.close();
    if (!this.exited) {
      this.signal('SIGTERM');
      const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
      await this.exitPromise;
      clearTimeout(timer);
    }
    rmSync(this.socketPath, { force: true });
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.exited) groupKiller(this.child)(sig);
  }

  private outputTail(): string {
    return this.output.trim().split('\n').slice(-15).join('\n');
  }
}

/** Signals the server's process group (it is its leader), or the child alone if that fails. */
export function groupKiller(child: ChildProcess): (sig: NodeJS.Signals) => void {
  return (sig) => {
    try {
      if (child.pid === undefined) throw new Error('no pid');
      process.kill(-child.pid, sig);
    } catch {
      child.kill(sig);
    }
  };
}

async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OutpostError('USER_CODE_LOAD_FAILED', { detail: what })), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Load errors are deterministic: restarting the same version would fail the same way. */
export function isDagsterLoadError(err: unknown): boolean {
  return isOutpostError(err, 'USER_CODE_LOAD_FAILED') || isOutpostError(err, 'DAGSTER_UNSUPPORTED_VERSION');
}
