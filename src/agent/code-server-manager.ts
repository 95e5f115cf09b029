// Reconciles the control plane's `workspace` into running code servers: one process per
// location (Outpost's SDK server on a free loopback port, or a Dagster `api grpc` server on a
// Unix socket for a `dagster` spec), health-checked, restarted with exponential
// backoff when it dies, and replaced on a new spec version only once the new one is healthy.
// Status (LOADING / LOADED / ERROR) is reported with reportCodeLocation and in heartbeats.
// This file holds the reconcile loop and each location's slot; the roles it drives are
// code-server-spawn.ts (start and stop one server), code-server-health.ts (Ping),
// code-server-orphans.ts (servers a crashed agent left), code-server-report.ts, and for Dagster
// locations dagster/dagster-code-server.ts (spawn, heartbeat, load, health of one server).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../shared/logger.js';
import { OutpostError } from '../shared/errors.js';
import { credentialFreeEnv } from '../shared/child-env.js';
import { CodeLocationSpecSchema, type CodeLocationSpec } from '../shared/work-items.js';
import type { GetDefinitionsResponse, GetServerInfoResponse } from '../gen/outpost/codeserver/v1/code_server.js';
import { backoffDelay } from '../shared/backoff.js';
import { unary, type CodeServerClient } from './code-server-client.js';
import { checkCodeServers, type HealthTarget } from './code-server-health.js';
import { reapOrphanCodeServers, recordCodeServer } from './code-server-orphans.js';
import { LocationReporter } from './code-server-report.js';
import { killChild, killServer, spawnCodeServer, type Killer, type ServerProcess } from './code-server-spawn.js';
import type { CodeServerStatusReport, ControlPlaneClient, WorkspaceEntry } from './control-plane-client.js';
import { formatUserCodeError, snapshotFromDefinitions } from './definitions-snapshot.js';
import { defaultCliCommand } from './launchers/detached-spawn.js';
import { noIsolation, type Isolation } from './launchers/sandbox.js';
import type { NodeCaStore } from './launchers/node-ca.js';
import { formatZodIssues } from '../shared/zod-issues.js';
import { precompileLocationTs } from '../shared/ts-precompile.js';
import { dagsterSocketRoot, type DagsterCodeServer } from './dagster/dagster-code-server.js';
import type { DagsterLoaded } from './dagster/dagster-load.js';
import type { DagsterTarget } from '../shared/dagster-target.js';
import { startDagsterSlot } from './code-server-dagster.js';
import { isDagster, stopServed, type Served, type Slot } from './code-server-slot.js';

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
  /** The agent's certificate store for Outpost's own code servers (launchers/node-ca.ts). */
  nodeCa?: NodeCaStore;
  secrets?: string[];
  /** How code servers are kept from the agent's credentials (launchers/sandbox.ts); default none. */
  isolation?: Isolation;
  /**
   * Where code-server pids are recorded. A kill -9'd agent cannot stop its code servers; the
   * next agent on the same data dir finds them here and stops them before starting its own.
   */
  dataDir?: string;
  /** Called each time an Outpost location version is loaded and serving (the agent pre-warms run workers). */
  onLoaded?: (location: string, spec: CodeLocationSpec & { version: number }) => void;
  dagster?: {
    /** Private root of the servers' socket dirs; default dagsterSocketRoot(dataDir), else a temp dir. */
    socketDir?: string;
    /** Spawn → loaded at most this long, else the location is ERROR; default 180 s. */
    startTimeoutMs?: number;
    /** The server exits when the agent's heartbeats stop for this long; default 60 s (as Dagster+). */
    heartbeatTimeoutSeconds?: number;
  };
}

export class CodeServerManager {
  private readonly slots = new Map<string, Slot>();
  private readonly cli: string[];
  private healthTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Every code-server process this manager spawned that has not exited yet. */
  private readonly children = new Map<ChildProcess, Killer>();
  private readonly reporter: LocationReporter;
  private socketDir: string | undefined;
  /** Workspace refreshes asked for, and the latest one whose answer was applied (refresh()). */
  private refreshesAsked = 0;
  private refreshApplied = 0;

  constructor(private readonly opts: CodeServerManagerOptions) {
    this.cli = opts.cliCommand ?? defaultCliCommand();
    this.reporter = new LocationReporter({
      controlPlane: opts.controlPlane,
      agentId: opts.agentId,
      logger: opts.logger,
      stopped: () => this.stopped,
    });
    if (opts.dataDir) reapOrphanCodeServers(opts.dataDir, opts.logger);
    this.healthTimer = setInterval(() => void this.healthCheck(), opts.healthIntervalMs ?? 5_000);
    this.healthTimer.unref();
  }

  /** Fetches the workspace and reconciles. */
  async refresh(): Promise<void> {
    const asked = ++this.refreshesAsked;
    const entries = await this.opts.controlPlane.workspace(this.opts.agentId());
    // Refreshes overlap (the reconcile timer, a launch's or a sync's refresh): an answer older
    // than one already applied would remove locations added since, stopping their servers.
    if (asked < this.refreshApplied) return;
    this.refreshApplied = asked;
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
        const error = `invalid location spec: ${formatZodIssues(spec.error)}`;
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
      if (slot.current) void stopServed(slot.current);
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
    const s = await this.serving(location, waitMs);
    if (isDagster(s)) throw new OutpostError('INVALID_ARGUMENT', { detail: `${location} is a Dagster location` });
    return { client: s.client, serverId: s.serverId };
  }

  /** The location's serving Dagster code server (loaded), waiting up to `waitMs` while it starts. */
  async dagsterServer(location: string, waitMs: number): Promise<DagsterCodeServer & { loaded: DagsterLoaded }> {
    const s = await this.serving(location, waitMs);
    if (!isDagster(s) || !s.loaded) {
      throw new OutpostError('INVALID_ARGUMENT', { detail: `${location} is not a Dagster location` });
    }
    return s as DagsterCodeServer & { loaded: DagsterLoaded };
  }

  /** What the Dagster run launcher needs from the location's serving server; undefined if none. */
  dagsterTarget(location: string): DagsterTarget | undefined {
    const s = this.slots.get(location)?.current;
    if (!s || s.exited || !isDagster(s) || !s.loaded) return undefined;
    return s.loaded.target;
  }

  private async serving(location: string, waitMs: number): Promise<Served> {
    const deadline = Date.now() + waitMs;
    let refreshed = false;
    for (;;) {
      const slot = this.slots.get(location);
      if (slot?.current && !slot.current.exited) return slot.current;
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
      if (slot.current) exits.push(stopServed(slot.current));
    }
    this.slots.clear();
    // Servers still starting (or being replaced) belong to no slot yet: stop them too, or they
    // outlive the agent.
    for (const [child, kill] of this.children) exits.push(killChild(child, kill));
    await Promise.all(exits);
    if (this.socketDir && !this.opts.dagster?.socketDir && !this.opts.dataDir) {
      rmSync(this.socketDir, { recursive: true, force: true });
    }
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
    if (slot.spec.dagster) {
      return startDagsterSlot(slot, slot.spec.dagster, version, log, {
        stopped: () => this.stopped,
        server: {
          socketDir: this.dagsterSocketDir(),
          // The same sandbox as Outpost code servers and run workers: it runs user code too.
          isolation: this.opts.isolation ?? noIsolation,
          env: credentialFreeEnv(this.opts.env ?? process.env, slot.spec.env ?? {}, { secrets: this.opts.secrets }),
          startTimeoutMs: this.opts.dagster?.startTimeoutMs ?? 180_000,
          heartbeatTimeoutSeconds: this.opts.dagster?.heartbeatTimeoutSeconds ?? 60,
        },
        track: (child, kill) => this.track(child, kill),
        serve: (server) => this.serve(slot, server),
        report: (status, extra) => this.report(slot.name, version, status, extra),
        scheduleRestart: () => this.scheduleRestart(slot),
        notify: () => this.notify(slot),
      });
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
      // Its definitions took up to a minute: the location may have been removed or moved on to a
      // newer version meanwhile (as the Dagster path checks after its load).
      if (slot.removed || this.stopped || slot.version !== version) {
        await killServer(server);
        return;
      }
      this.serve(slot, server);
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

  private dagsterSocketDir(): string {
    this.socketDir ??=
      this.opts.dagster?.socketDir ??
      (this.opts.dataDir ? dagsterSocketRoot(this.opts.dataDir) : mkdtempSync(join(tmpdir(), 'outpost-dg-')));
    return this.socketDir;
  }

  /** Makes `server` the slot's serving process and stops the one it replaces. */
  private serve(slot: Slot, server: Served): void {
    const old = slot.current;
    slot.current = server;
    slot.restarts = 0;
    this.watchExit(slot, server);
    if (old && old !== server) void stopServed(old);
  }

  private track(child: ChildProcess, kill: Killer): void {
    if (this.opts.dataDir) recordCodeServer(this.opts.dataDir, child);
    this.children.set(child, kill);
    child.once('exit', () => this.children.delete(child));
    if (this.stopped) void killChild(child, kill);
  }

  private watchExit(slot: Slot, server: Served): void {
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

  private healthCheck(): Promise<void> {
    // Lazily, slot by slot: a slot that started replacing its server meanwhile is skipped.
    const slots = this.slots;
    function* targets(): Generator<HealthTarget> {
      for (const slot of slots.values()) {
        yield { location: slot.name, server: slot.startingVersion === undefined ? slot.current : undefined };
      }
    }
    return checkCodeServers(targets(), this.opts.logger);
  }

  private async spawnServer(spec: CodeLocationSpec, version: number): Promise<ServerProcess> {
    const options = {
      cli: this.cli,
      isolation: this.opts.isolation ?? noIsolation,
      env: this.opts.env ?? process.env,
      secrets: this.opts.secrets ?? [],
      ...(this.opts.nodeCa ? { nodeCa: this.opts.nodeCa } : {}),
      startTimeoutMs: this.opts.startTimeoutMs ?? 60_000,
      logger: this.opts.logger,
    };
    // Compiled: its TypeScript into the compile cache first, so it loads without tsx (ts-cache.ts).
    await precompileLocationTs(spec, credentialFreeEnv(options.env, {}, { secrets: options.secrets }));
    return spawnCodeServer(options, spec, version, (child, kill) => this.track(child, kill));
  }

  private report(
    location: string,
    version: number,
    status: 'LOADING' | 'LOADED' | 'ERROR',
    extra: { snapshot?: unknown; error?: string },
  ): Promise<void> {
    return this.reporter.report(location, version, status, extra);
  }
}
