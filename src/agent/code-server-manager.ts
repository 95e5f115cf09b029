// Reconciles the control plane's `workspace` into running code servers: one process per
// location on a free loopback port, health-checked with Ping, restarted with exponential
// backoff when it dies, and replaced on a new spec version only once the new one is healthy.
// Status (LOADING / LOADED / ERROR) is reported with reportCodeLocation and in heartbeats.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../shared/logger.js';
import { OutpostError } from '../shared/errors.js';
import { CodeLocationSpecSchema, type CodeLocationSpec } from '../shared/work-items.js';
import type {
  GetDefinitionsResponse,
  GetServerInfoResponse,
  PingResponse,
} from '../gen/outpost/codeserver/v1/code_server.js';
import { backoffDelay } from './backoff.js';
import { credentialFreeEnv } from '../shared/child-env.js';
import { connectCodeServer, unary, type CodeServerClient } from './code-server-client.js';
import type { CodeServerStatusReport, ControlPlaneClient, WorkspaceEntry } from './control-plane-client.js';
import { formatUserCodeError, snapshotFromDefinitions } from './definitions-snapshot.js';
import { defaultCliCommand } from './launchers/process-launcher.js';
import { isSameLiveProcess, readProcStat } from './launchers/proc.js';
import { noIsolation, type Isolation } from './launchers/sandbox.js';

/** Sends of one location report before giving up (about 2 minutes with backoff). */
const REPORT_ATTEMPTS = 30;

export interface CodeServerManagerOptions {
  controlPlane: ControlPlaneClient;
  agentId: () => string;
  logger: Logger;
  /** How to start the CLI; default node + tsx + src/cli/main.ts. */
  cliCommand?: string[];
  /** Wait for the READY line at most this long; default 60 s (tsx on 2 cores is slow). */
  startTimeoutMs?: number;
  /** Ping every this often; default 5 s. */
  healthIntervalMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Secrets the agent holds (its token): no variable carrying one reaches a code server. */
  secrets?: string[];
  /** How code servers are kept from the agent's credentials (launchers/sandbox.ts); default none. */
  isolation?: Isolation;
  /**
   * Where code-server pids are recorded. A kill -9'd agent cannot stop its code servers; the
   * next agent on the same data dir finds them here and stops them before starting its own.
   */
  dataDir?: string;
  /** Called each time a location version is loaded and serving (the agent pre-warms run workers). */
  onLoaded?: (location: string, spec: CodeLocationSpec & { version: number }) => void;
}

interface ServerProcess {
  child: ChildProcess;
  /** Signals the code server's whole tree (inside its sandbox, if any). */
  kill: Killer;
  port: number;
  serverId: string;
  client: CodeServerClient;
  version: number;
  exited: boolean;
}

interface Slot {
  name: string;
  version: number;
  spec: CodeLocationSpec;
  status: 'LOADING' | 'LOADED' | 'ERROR';
  error?: string;
  current?: ServerProcess;
  /** Version being started, so concurrent reconciles don't start it twice. */
  startingVersion?: number;
  restarts: number;
  restartTimer?: NodeJS.Timeout;
  waiters: Array<() => void>;
  removed: boolean;
}

const READY = /OUTPOST_CODE_SERVER_READY port=(\d+) server_id=(\S+)/;

export class CodeServerManager {
  private readonly slots = new Map<string, Slot>();
  private readonly cli: string[];
  private healthTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Every code-server process this manager spawned that has not exited yet. */
  private readonly children = new Map<ChildProcess, Killer>();

  constructor(private readonly opts: CodeServerManagerOptions) {
    this.cli = opts.cliCommand ?? defaultCliCommand();
    if (opts.dataDir) this.reapOrphans(opts.dataDir);
    this.healthTimer = setInterval(() => void this.healthCheck(), opts.healthIntervalMs ?? 5_000);
    this.healthTimer.unref();
  }

  /** Fetches the workspace and reconciles. */
  async refresh(): Promise<void> {
    const entries = await this.opts.controlPlane.workspace(this.opts.agentId());
    this.reconcile(entries);
  }

  reconcile(entries: WorkspaceEntry[]): void {
    if (this.stopped) return;
    const seen = new Set<string>();
    for (const entry of entries) {
      const spec = CodeLocationSpecSchema.safeParse({ ...entry.spec, name: entry.name });
      seen.add(entry.name);
      let slot = this.slots.get(entry.name);
      if (!spec.success) {
        const error = `invalid location spec: ${spec.error.issues[0]?.message ?? 'unknown'}`;
        if (!slot || slot.version !== entry.version) void this.report(entry.name, entry.version, 'ERROR', { error });
        continue;
      }
      if (!slot) {
        slot = {
          name: entry.name,
          version: entry.version,
          spec: spec.data,
          status: 'LOADING',
          restarts: 0,
          waiters: [],
          removed: false,
        };
        this.slots.set(entry.name, slot);
        void this.start(slot);
      } else if (entry.version > slot.version) {
        slot.version = entry.version;
        slot.spec = spec.data;
        void this.start(slot);
      }
    }
    for (const [name, slot] of this.slots) {
      if (seen.has(name)) continue;
      slot.removed = true;
      clearTimeout(slot.restartTimer);
      if (slot.current) void killServer(slot.current);
      this.slots.delete(name);
    }
  }

  statuses(): CodeServerStatusReport[] {
    return [...this.slots.values()].map((s) => ({
      location: s.name,
      status: s.status,
      ...(s.error ? { error: s.error.slice(0, 4000) } : {}),
    }));
  }

  spec(location: string): (CodeLocationSpec & { version: number }) | undefined {
    const slot = this.slots.get(location);
    return slot ? { ...slot.spec, version: slot.version } : undefined;
  }

  /** The status of the location once it has settled at `minVersion` or later (waits up to `waitMs`). */
  async settled(
    location: string,
    minVersion: number,
    waitMs: number,
  ): Promise<{ status: 'LOADED' | 'ERROR'; error?: string }> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const slot = this.slots.get(location);
      if (slot && slot.version >= minVersion && slot.startingVersion === undefined && slot.status !== 'LOADING') {
        return { status: slot.status, ...(slot.error ? { error: slot.error } : {}) };
      }
      if (!slot) await this.refresh();
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new OutpostError('CODE_SERVER_UNAVAILABLE', {
          detail: `location ${location} did not finish loading version ${minVersion} within ${waitMs} ms`,
        });
      }
      await this.waitForChange(location, Math.min(left, 1_000));
    }
  }

  /** A client for the location's serving code server, waiting up to `waitMs` while it starts. */
  async client(location: string, waitMs: number): Promise<{ client: CodeServerClient; serverId: string }> {
    const deadline = Date.now() + waitMs;
    let refreshed = false;
    for (;;) {
      const slot = this.slots.get(location);
      if (slot?.current && !slot.current.exited)
        return { client: slot.current.client, serverId: slot.current.serverId };
      if (!slot && !refreshed) {
        refreshed = true;
        await this.refresh();
        continue;
      }
      if (!slot) throw new OutpostError('UNKNOWN_LOCATION', { detail: `${location} is not in the agent's workspace` });
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new OutpostError('CODE_SERVER_UNAVAILABLE', {
          detail: `the code server of ${location} was not ready within ${waitMs} ms (status ${slot.status}${slot.error ? `: ${slot.error.split('\n')[0]}` : ''})`,
        });
      }
      await this.waitForChange(location, left);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.healthTimer);
    const exits: Promise<void>[] = [];
    for (const slot of this.slots.values()) {
      clearTimeout(slot.restartTimer);
      if (slot.current) exits.push(killServer(slot.current));
    }
    this.slots.clear();
    // Servers still starting (or being replaced) belong to no slot yet: stop them too, or they
    // outlive the agent.
    for (const [child, kill] of this.children) exits.push(killChild(child, kill));
    await Promise.all(exits);
  }

  /** Kills code servers a previous (crashed) agent on this data dir left behind. */
  private reapOrphans(dataDir: string): void {
    const dir = join(dataDir, 'code-servers');
    let files: string[] = [];
    try {
      files = readdirSync(dir);
    } catch {
      return;
    }
    for (const f of files) {
      try {
        const rec = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pid: number; startTime: number };
        if (isSameLiveProcess(rec.pid, rec.startTime)) {
          process.kill(rec.pid, 'SIGKILL');
          this.opts.logger.warn({ pid: rec.pid }, 'stopped a code server left by a previous agent');
        }
      } catch {
        // Unreadable or already gone: nothing to stop.
      }
      rmSync(join(dir, f), { force: true });
    }
  }

  private recordPid(child: ChildProcess): void {
    if (!this.opts.dataDir || child.pid === undefined) return;
    const dir = join(this.opts.dataDir, 'code-servers');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${child.pid}.json`);
    writeFileSync(file, JSON.stringify({ pid: child.pid, startTime: readProcStat(child.pid)?.startTime ?? -1 }));
    child.once('exit', () => rmSync(file, { force: true }));
  }

  private waitForChange(location: string, ms: number): Promise<void> {
    return new Promise((res) => {
      const slot = this.slots.get(location);
      const timer = setTimeout(res, ms);
      slot?.waiters.push(() => {
        clearTimeout(timer);
        res();
      });
    });
  }

  private notify(slot: Slot): void {
    const waiters = slot.waiters.splice(0);
    for (const w of waiters) w();
  }

  /** Starts a server for the slot's current version; swaps it in only once it answers Ping. */
  private async start(slot: Slot): Promise<void> {
    const version = slot.version;
    if (slot.startingVersion === version || this.stopped) return;
    slot.startingVersion = version;
    const log = this.opts.logger.child({ location: slot.name, version });
    if (!slot.current) {
      slot.status = 'LOADING';
      void this.report(slot.name, version, 'LOADING', {});
    }
    let server: ServerProcess | undefined;
    try {
      server = await this.spawnServer(slot.spec, version);
      if (slot.removed || this.stopped || slot.version !== version) {
        await killServer(server);
        return;
      }
      const [info, defs] = await Promise.all([
        unary<object, GetServerInfoResponse>(server.client, 'getServerInfo', {}, 10_000),
        unary<object, GetDefinitionsResponse>(server.client, 'getDefinitions', {}, 60_000),
      ]);
      const old = slot.current;
      slot.current = server;
      slot.restarts = 0;
      this.watchExit(slot, server);
      if (old && old !== server) void killServer(old);
      const loadError = defs.loadError ?? info.loadError;
      if (loadError) {
        slot.status = 'ERROR';
        slot.error = formatUserCodeError(loadError);
        log.warn({ error: loadError.message }, 'code location failed to load');
        await this.report(slot.name, version, 'ERROR', { error: slot.error });
      } else {
        const snapshot = snapshotFromDefinitions(defs, { serverId: info.serverId, sdkVersion: info.sdkVersion });
        slot.status = 'LOADED';
        delete slot.error;
        log.info({ port: server.port, serverId: server.serverId, jobs: snapshot.jobs.length }, 'code location loaded');
        this.opts.onLoaded?.(slot.name, { ...slot.spec, version });
        await this.report(slot.name, version, 'LOADED', { snapshot });
      }
    } catch (err) {
      if (server) void killServer(server);
      const message = err instanceof Error ? err.message : String(err);
      log.error({ err: message }, 'code server failed to start');
      if (!slot.current || slot.current.exited) {
        slot.status = 'ERROR';
        slot.error = message;
        await this.report(slot.name, version, 'ERROR', { error: message });
      }
      this.scheduleRestart(slot);
    } finally {
      if (slot.startingVersion === version) delete slot.startingVersion;
      this.notify(slot);
    }
  }

  private watchExit(slot: Slot, server: ServerProcess): void {
    server.child.once('exit', (code, signal) => {
      server.exited = true;
      if (this.stopped || slot.removed || slot.current !== server) return;
      this.opts.logger.warn({ location: slot.name, code, signal }, 'code server exited; restarting');
      slot.status = 'LOADING';
      this.notify(slot);
      this.scheduleRestart(slot);
    });
  }

  private scheduleRestart(slot: Slot): void {
    if (this.stopped || slot.removed || slot.restartTimer) return;
    const delay = backoffDelay(slot.restarts++, { initialMs: 500, maxMs: 30_000 });
    slot.restartTimer = setTimeout(() => {
      delete slot.restartTimer;
      void this.start(slot);
    }, delay);
    slot.restartTimer.unref();
  }

  private async healthCheck(): Promise<void> {
    for (const slot of this.slots.values()) {
      const server = slot.current;
      if (!server || server.exited || slot.startingVersion !== undefined) continue;
      try {
        await unary<{ echo: string }, PingResponse>(server.client, 'ping', { echo: 'health' }, 3_000);
      } catch (err) {
        // A hung server is as dead as an exited one: kill it; its exit handler restarts it.
        this.opts.logger.warn({ location: slot.name, err: (err as Error).message }, 'code server failed Ping; killing');
        void killServer(server);
      }
    }
  }

  private spawnServer(spec: CodeLocationSpec, version: number): Promise<ServerProcess> {
    const cwd = spec.workingDirectory ? resolve(spec.workingDirectory) : process.cwd();
    let cmd: string[];
    if (spec.command?.length) cmd = spec.command.map((a) => a.replace('{port}', '0'));
    else if (spec.module) {
      cmd = [
        ...this.cli,
        'code-server',
        '--module',
        resolve(cwd, spec.module),
        '--port',
        '0',
        '--location',
        spec.name,
        '--exit-with-parent',
      ];
    } else
      throw new OutpostError('INVALID_ARGUMENT', { detail: `location ${spec.name} has neither module nor command` });
    // Module or command, the same rule: credential-free environment, same sandbox; it ends
    // with the agent.
    const isolation = this.opts.isolation ?? noIsolation;
    const readable = spec.module ? [dirname(resolve(cwd, spec.module))] : [];
    const argv = isolation.command(cmd, { cwd, readable, dieWithParent: true });
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: credentialFreeEnv(this.opts.env ?? process.env, spec.env ?? {}, { secrets: this.opts.secrets ?? [] }),
    });
    const kill = killer(child, isolation);
    this.recordPid(child);
    this.children.set(child, kill);
    child.once('exit', () => this.children.delete(child));
    if (this.stopped) void killChild(child, kill);
    const log = this.opts.logger.child({ location: spec.name, pid: child.pid });
    let stderrTail = '';
    child.stderr?.on('data', (b: Buffer) => {
      stderrTail = (stderrTail + b.toString('utf8')).slice(-4000);
    });
    return new Promise<ServerProcess>((resolvePromise, reject) => {
      const timeoutMs = this.opts.startTimeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        kill('SIGKILL');
        reject(new OutpostError('CODE_SERVER_UNAVAILABLE', { detail: `no READY line within ${timeoutMs} ms` }));
      }, timeoutMs);
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        const m = READY.exec(line);
        if (!m) {
          log.debug({ line }, 'code server stdout');
          return;
        }
        clearTimeout(timer);
        const port = Number(m[1]);
        resolvePromise({ child, kill, port, serverId: m[2]!, client: connectCodeServer(port), version, exited: false });
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new OutpostError('CODE_SERVER_UNAVAILABLE', {
            detail: `code server exited (code ${code}, signal ${signal}) before it was ready: ${stderrTail.trim().split('\n').slice(-5).join(' | ')}`,
          }),
        );
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new OutpostError('CODE_SERVER_UNAVAILABLE', { detail: err.message, cause: err }));
      });
    });
  }

  /** The latest report per location; a pending retry is dropped once a newer one replaces it. */
  private readonly latestReport = new Map<string, object>();

  private async report(
    location: string,
    version: number,
    status: 'LOADING' | 'LOADED' | 'ERROR',
    extra: { snapshot?: unknown; error?: string },
  ): Promise<void> {
    const input = { agentId: this.opts.agentId(), location, version, status, ...extra };
    this.latestReport.set(location, input);
    const send = async (n: number): Promise<void> => {
      try {
        await this.opts.controlPlane.reportCodeLocation(input);
      } catch (err) {
        // Refused until this deployment's claim of the version's SYNC item lands (LOCATION_NOT_OWNED),
        // or the control plane is away: send it again, unless a newer report replaced it.
        const why = (err as Error).message;
        if (this.stopped || n + 1 >= REPORT_ATTEMPTS || this.latestReport.get(location) !== input) {
          this.opts.logger.warn({ location, version, err: why }, 'reportCodeLocation failed');
          return;
        }
        this.opts.logger.debug({ location, version, err: why }, 'reportCodeLocation refused; retrying');
        // In the background: the caller (a code server start) must not wait on the retries.
        const retry = setTimeout(
          () => {
            if (this.latestReport.get(location) === input) void send(n + 1);
          },
          backoffDelay(n, { initialMs: 250, maxMs: 5_000 }),
        );
        retry.unref();
      }
    };
    await send(0);
  }
}

function killServer(server: ServerProcess): Promise<void> {
  server.client.close();
  if (server.exited) return Promise.resolve();
  return killChild(server.child, server.kill);
}

type Killer = (signal: NodeJS.Signals) => void;

/**
 * Signals what runs the user code: the child itself, or the group of its sandbox's pid 1 (a
 * signal to the outer bwrap would kill the sandbox at once, without the code server's own
 * clean shutdown).
 */
function killer(child: ChildProcess, isolation: Isolation): Killer {
  if (isolation.kind === 'none' || child.pid === undefined) return (sig) => void child.kill(sig);
  const root = isolation.root(child.pid);
  return (sig) => {
    void root.then((r) => {
      try {
        if (r !== undefined) process.kill(-r, sig);
        else child.kill(sig);
      } catch {
        child.kill(sig);
      }
    });
  };
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the process is gone. */
function killChild(child: ChildProcess, kill: Killer): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(t);
      res();
    });
    kill('SIGTERM');
  });
}
