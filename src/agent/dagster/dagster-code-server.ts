// One Dagster code server of the agent's code-server manager: `<python> -m dagster api grpc` on a
// Unix socket (not a port: Dagster binds ports with SO_REUSEPORT, so a stale server would silently
// share one), with the credential-free child environment plus the location's env, inside the same
// sandbox as every other piece of user code (launchers/sandbox.ts): it runs user code at import
// and on every schedule/sensor evaluation. Each server gets its own 0700 socket directory under a
// private root (dagsterSocketRoot: in the agent's data dir, so hidden from all user code); only
// its own directory is bound back into its sandbox, so no user code can talk to, or replace,
// another location's server. Started with Dagster's `--heartbeat`, and the agent calls Heartbeat
// every few seconds, so a server whose agent died (even kill -9) exits by itself; the sandbox's
// die-with-parent and the pid record (code-server-orphans.ts) cover the rest.
// Start = spawn, wait on Ping, then load (dagster-load.ts). Health = ListRepositories.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../../shared/logger.js';
import { OutpostError, isOutpostError } from '../../shared/errors.js';
import type { CodeLocationSpec, DagsterLocation } from '../../shared/work-items.js';
import { noIsolation, type Isolation } from '../launchers/sandbox.js';
import { DagsterGrpcClient, waitForDagsterServer } from './dagster-grpc-client.js';
import { describeLoadError, loadDagsterLocation, type DagsterLoaded } from './dagster-load.js';
import { readListRepositories } from './serdes-readers.js';

export interface DagsterCodeServerOptions {
  /** Private root of the servers' socket directories (see dagsterSocketRoot). */
  socketDir: string;
  /** Environment of the server: already credential-free, with the location's env added. */
  env: NodeJS.ProcessEnv;
  /** The sandbox user code runs in (the agent's `--isolation`); default none. */
  isolation?: Isolation;
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

/** Socket paths are limited to 108 bytes (sun_path) on Linux; keep a margin. */
const SOCKET_PATH_MAX = 100;
const SOCKET_NAME = 'grpc.sock';
/** `<root>/<16 hex>/grpc.sock`: what a server's socket path adds to its root. */
const PER_SERVER_SUFFIX = 1 + 16 + 1 + SOCKET_NAME.length;

/**
 * The private root of the Dagster servers' socket directories: `<dataDir>/dagster-sockets`, hidden
 * from user code with the rest of the data dir. When that path is too long for a socket, a short
 * one in the OS temp dir named after the data dir (the agent must then hide it too: agent.ts adds
 * it to the sandbox's hidden directories). Created 0700; one that is not a directory of ours
 * (another local user made it first, or a symlink) is refused.
 */
export function dagsterSocketRoot(dataDir: string): string {
  const inData = join(resolve(dataDir), 'dagster-sockets');
  const root =
    Buffer.byteLength(inData) + PER_SERVER_SUFFIX <= SOCKET_PATH_MAX
      ? inData
      : join(tmpdir(), `outpost-dg-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const st = lstatSync(root);
  if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid())) {
    throw new OutpostError('ISOLATION_UNAVAILABLE', {
      detail: `${root} (Dagster code-server sockets) is not a directory owned by the agent's user; remove it`,
    });
  }
  if ((st.mode & 0o077) !== 0) chmodSync(root, 0o700);
  return root;
}

/**
 * A fresh 0700 directory per spawn, holding only this server's socket: a server being stopped
 * removes its directory once gone, which must never be its replacement's.
 */
function socketDirFor(root: string): string {
  let dir = join(root, randomBytes(8).toString('hex'));
  if (Buffer.byteLength(dir) + 1 + SOCKET_NAME.length > SOCKET_PATH_MAX) {
    // A root given by the caller that is already long: the shortest unique name.
    dir = join(root, randomBytes(3).toString('hex'));
  }
  mkdirSync(root, { recursive: true, mode: 0o700 });
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

export class DagsterCodeServer {
  readonly flavour = 'dagster' as const;
  exited = false;
  loaded: DagsterLoaded | undefined;
  readonly client: DagsterGrpcClient;
  /** Signals what runs the user code: the server's group, or its sandbox's pid 1's group. */
  readonly kill: (sig: NodeJS.Signals) => void;
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
    /** The interpreter the server was started with (the deployed one, which deploy policy checked). */
    readonly python: string,
    heartbeatSeconds: number,
    private readonly isolation: Isolation,
  ) {
    this.client = new DagsterGrpcClient(socketPath);
    this.kill = groupKiller(child, isolation);
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
   * Spawns the server for one location version; `started` gets the child and its killer before
   * any await (pid record, tracking). Resolves once it answers Ping; `load()` then reads its
   * definitions. Throws ISOLATION_PATH_HIDDEN when the location names a path the sandbox hides.
   */
  static spawn(
    o: DagsterCodeServerOptions,
    spec: CodeLocationSpec & { dagster: DagsterLocation },
    version: number,
    started: (child: ChildProcess, kill: (sig: NodeJS.Signals) => void) => void,
  ): DagsterCodeServer {
    const isolation = o.isolation ?? noIsolation;
    const cwd = dagsterWorkingDirectory(spec);
    // A path is taken relative to the agent's cwd (not the server's); a bare name goes through PATH.
    const python = spec.dagster.python.includes('/') ? resolve(spec.dagster.python) : spec.dagster.python;
    // What the deployer named must not lie in a hidden directory (refused there, never bound back).
    const readable = [
      ...(python.includes('/') ? [dirname(python)] : []),
      ...(spec.dagster.pythonFile ? [dirname(resolve(cwd, spec.dagster.pythonFile))] : []),
    ];
    // Spawning in a missing cwd fails as `spawn <program> ENOENT`, naming the sandbox or the
    // interpreter (both there) instead of the directory the deployer mistyped.
    if (!statSync(cwd, { throwIfNoEntry: false })?.isDirectory()) {
      throw new OutpostError('USER_CODE_LOAD_FAILED', {
        detail: `the working directory ${cwd} does not exist on this agent's host (or is not a directory): redeploy with a --working-directory that does`,
      });
    }
    const socketDir = socketDirFor(o.socketDir);
    const socketPath = join(socketDir, SOCKET_NAME);
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
    let argv: string[];
    try {
      // argv, never a shell: a name or pointer is one argument whatever characters it holds.
      argv = isolation.command([python, ...args], { cwd, readable, writable: [socketDir], dieWithParent: true });
    } catch (err) {
      rmSync(socketDir, { recursive: true, force: true });
      throw err;
    }
    const child = spawn(argv[0]!, argv.slice(1), {
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
    const server = new DagsterCodeServer(
      child,
      socketPath,
      version,
      spec.name,
      cwd,
      python,
      o.heartbeatTimeoutSeconds,
      isolation,
    );
    started(child, server.kill);
    return server;
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
        const how = this.isolation.exit(this.child.exitCode, this.child.signalCode);
        throw new OutpostError('USER_CODE_LOAD_FAILED', {
          detail: `dagster api grpc exited (${how.code ?? how.signal}) before it answered:\n${this.outputTail()}`,
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
        // Runs use the deployed interpreter, not what user code reports (it could rewrite
        // sys.executable at import); a bare name is left to the server's own report.
        ...(this.python.includes('/') ? { python: this.python } : {}),
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
    rmSync(dirname(this.socketPath), { recursive: true, force: true });
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.exited) this.kill(sig);
  }

  private outputTail(): string {
    return this.output.trim().split('\n').slice(-15).join('\n');
  }
}

/**
 * Signals the server's process group: the child's own (it leads one), or under a sandbox the
 * group of the sandbox's pid 1 (a signal to the outer bwrap would end the namespace at once,
 * without Dagster's clean shutdown). The child alone if that fails.
 */
export function groupKiller(child: ChildProcess, isolation: Isolation = noIsolation): (sig: NodeJS.Signals) => void {
  const root =
    isolation.kind === 'none' || child.pid === undefined ? Promise.resolve(child.pid) : isolation.root(child.pid);
  return (sig) => {
    void root.then((pid) => {
      try {
        if (pid === undefined) throw new Error('no pid');
        process.kill(-pid, sig);
      } catch {
        child.kill(sig);
      }
    });
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
  return (
    isOutpostError(err, 'USER_CODE_LOAD_FAILED') ||
    isOutpostError(err, 'DAGSTER_UNSUPPORTED_VERSION') ||
    isOutpostError(err, 'ISOLATION_PATH_HIDDEN')
  );
}
