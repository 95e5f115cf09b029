// Runs each run worker as a local process: `outpost api execute-run` (or, for a Dagster
// location, `dagster api execute_run`: cold-spawn.ts), detached in its own
// process group, stdout/stderr appended to the spool's log files. This class decides which
// path a launch takes; each path is its own file:
//   cold-spawn.ts  a fresh process (intent.json → spawn → spawns.log + process.json), once
//                  one of the boot slots is free (boot-slots.ts: a cap on workers booting at once);
//   hand-off.ts    a ready warm standby (standby-pool.ts) takes the run over IPC (a claim
//                  file decides standby vs agent when a deadline runs out);
//   recovery.ts    intent.json without process.json: the agent died mid-launch; find the worker.
// Both spawns (cold and standby) go through detached-spawn.ts; the on-disk records are
// run-records.ts. On any later call: process.json present → adopt it (alive or finished,
// never respawn).
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SPOOL_FILES } from '../../shared/run-events.js';
import type { Logger } from '../../shared/logger.js';
import type { ExitStatus, LaunchHandle, Launcher, RunLaunchSpec } from './launcher.js';
import type { LaunchContext } from './launch-context.js';
import { BootSlots, defaultMaxBooting } from './boot-slots.js';
import { spawnCold } from './cold-spawn.js';
import { defaultCliCommand } from './detached-spawn.js';
import type { NodeCaStore } from './node-ca.js';
import { handOff } from './hand-off.js';
import { outpostWorkerMatch, recover } from './recovery.js';
import { isSameLiveProcess, processGroupMembers, readProcStat, workerBelow } from './proc.js';
import {
  configFileOf,
  hasIntent,
  listRecordedProcesses,
  readIntent,
  readProcessRecord,
  removeEmptiedStandbyDir,
  runDir,
  signalRecordedGroup,
  spawnCount,
  spoolOf,
  writeAtomic,
  type ProcessRecord,
} from './run-records.js';
import { isBwrap, noIsolation, type Isolation } from './sandbox.js';
import { endRootAfterWorker, outlivedItsWorker } from './sandbox-end.js';
import { STANDBY_COMMAND, StandbyPool, type StandbySpec } from './standby-pool.js';
import { NO_LINK_NO_WAIT } from '../../shared/user-writable-files.js';

// Where the CLI command lives now; re-exported for the callers that start it the same way.
export { defaultCliCommand } from './detached-spawn.js';

const noop = (): void => undefined;

/** In a run's directory: its workflow asked to stop it (recordTermination), before or after its launch. */
const TERMINATE_REQUESTED = 'terminate-requested';
/** Opens a file in a spool for writing: no symlink followed, no FIFO waited on (see markTerminated). */
const MARKER_WRITE = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NO_LINK_NO_WAIT;

/** SIGTERM to SIGKILL for a recovered worker whose termination was requested first (the run workflow's default). */
const RECOVERED_TERMINATE_GRACE_MS = 10_000;

/** A taken standby's replacement starts after this long if its launch never settles (launchSettled). */
const REFILL_FALLBACK_MS = 1_000;

export interface ProcessLauncherOptions {
  /** Agent data dir; runs live in <dataDir>/runs/<runId>/. */
  dataDir: string;
  logger: Logger;
  /** Command that starts the CLI; default: this Node with tsx on src/cli/main.ts. */
  cliCommand?: string[];
  /** Base environment for workers; default process.env (credentials are always stripped). */
  env?: NodeJS.ProcessEnv;
  /** Secrets the agent holds (its token): no variable carrying one reaches a worker. */
  /** The agent's certificate store for Outpost's own workers (node-ca.ts). */
  nodeCa?: NodeCaStore;
  secrets?: string[];
  /** How workers are kept from the agent's credentials (sandbox.ts); default none. */
  isolation?: Isolation;
  /** Niceness added to each run worker (0 = the agent's priority); default 0. */
  nice?: number;
  /**
   * Cold spawns booting at once, at most (boot-slots.ts); 0 = no cap. Default: two per core, at
   * least 4 (defaultMaxBooting).
   */
  maxBooting?: number;
  /** Warm standby workers kept per code-location version; default 0 (every run spawns cold). */
  warmWorkers?: number;
  /** The current version of a code location, so standbys never run superseded code. */
  locationVersion?: (location: string) => number | undefined;
}

export class ProcessLauncher implements Launcher {
  readonly kind = 'process';
  private readonly children = new Map<string, { child: ChildProcess; exit?: ExitStatus; exited: Promise<void> }>();
  /** The launch in flight per run (see launch()). */
  private readonly launching = new Map<string, Promise<LaunchHandle>>();
  /** Refills held back until the launch that took a standby has settled. */
  private readonly pendingRefills = new Map<string, { spec: StandbySpec; standbyDir: string; timer: NodeJS.Timeout }>();
  /** Adopted runs whose sandbox is being ended (sandbox-end.ts), one wait per run. */
  private readonly endingRoots = new Map<string, Promise<void>>();
  /**
   * The worker found below an adopted sandbox's root (pid and start time, from /proc/<pid>/stat),
   * so a supervision pass (every 250 ms) reads that one file instead of the sandbox's process
   * tree (7-8 reads). The start time is compared on each read: a reused pid is another process.
   */
  private readonly adoptedWorkers = new Map<string, { pid: number; startTime: number }>();
  private readonly cli: string[];
  private readonly isolation: Isolation;
  readonly standbys: StandbyPool;
  private readonly ctx: LaunchContext;
  /** The cold-boot cap shared by every cold spawn of this launcher. */
  readonly bootSlots: BootSlots;

  constructor(private readonly opts: ProcessLauncherOptions) {
    this.cli = opts.cliCommand ?? defaultCliCommand();
    this.isolation = opts.isolation ?? noIsolation;
    this.bootSlots = new BootSlots(opts.maxBooting ?? defaultMaxBooting());
    this.ctx = {
      kind: this.kind,
      dataDir: opts.dataDir,
      logger: opts.logger,
      isolation: this.isolation,
      cli: this.cli,
      env: opts.env ?? process.env,
      secrets: opts.secrets ?? [],
      ...(opts.nodeCa ? { nodeCa: opts.nodeCa } : {}),
      ...(opts.nice ? { nice: opts.nice } : {}),
      bootSlots: this.bootSlots,
      watch: (runId, child) => this.watch(runId, child),
      unwatch: (runId) => void this.children.delete(runId),
    };
    this.standbys = new StandbyPool({
      dataDir: opts.dataDir,
      logger: opts.logger,
      cli: this.cli,
      env: opts.env ?? process.env,
      secrets: opts.secrets ?? [],
      ...(opts.nodeCa ? { nodeCa: opts.nodeCa } : {}),
      isolation: this.isolation,
      perKey: opts.warmWorkers ?? 0,
      ...(opts.nice ? { nice: opts.nice } : {}),
    });
  }

  /** Starts warm standbys for a location (called when it loads, and after each launch). */
  prewarm(spec: Omit<RunLaunchSpec, 'runId' | 'job' | 'runConfig'>): void {
    if (spec.dagster) return; // Dagster runs always spawn cold
    this.standbys.prewarm(this.standbySpec(spec));
  }

  /** Retires idle standbys (they exit without running anything). */
  stop(): void {
    for (const { timer } of this.pendingRefills.values()) clearTimeout(timer);
    this.pendingRefills.clear();
    this.standbys.stop();
  }

  private standbySpec(spec: Omit<RunLaunchSpec, 'runId' | 'job' | 'runConfig'>): StandbySpec {
    const cwd = spec.cwd ?? process.cwd();
    const version = this.opts.locationVersion?.(spec.location);
    return {
      location: spec.location,
      module: resolve(cwd, spec.module),
      cwd,
      env: spec.env ?? {},
      ...(version !== undefined ? { version } : {}),
    };
  }

  runDir(runId: string): string {
    return runDir(this.opts.dataDir, runId);
  }

  spoolDir(runId: string): string {
    return spoolOf(this.runDir(runId));
  }

  /** Lines of the append-only spawn log: one per process actually spawned. */
  spawnCount(runId: string): number {
    return spawnCount(this.runDir(runId));
  }

  /**
   * One launch per run at a time in this process. A second call while one is in flight (Temporal
   * retrying a launchRun attempt that outlived its heartbeat timeout, here, while the first still
   * runs) waits for it and then adopts its worker: racing it, it would find the first one's intent
   * and its worker in /proc before process.json exists, and record that one spawn a second time.
   */
  launch(spec: RunLaunchSpec): Promise<LaunchHandle> {
    const prior = this.launching.get(spec.runId);
    const next = (prior ? prior.then(noop, noop) : Promise.resolve()).then(() => this.launchOnce(spec));
    this.launching.set(spec.runId, next);
    const done = (): void => {
      if (this.launching.get(spec.runId) === next) this.launching.delete(spec.runId);
    };
    next.then(done, done);
    return next;
  }

  private async launchOnce(spec: RunLaunchSpec): Promise<LaunchHandle> {
    const existing = await this.adopt(spec.runId);
    if (existing) return existing;
    const dir = this.runDir(spec.runId);
    const spool = this.spoolDir(spec.runId);
    // Owner-only: the run's config, spool and (Dagster) instance files are the run's alone.
    mkdirSync(dir, { recursive: true, mode: 0o700 });

    if (hasIntent(dir)) {
      const recovered = await recover(this.ctx, spec.runId);
      if (recovered) {
        this.stopIfTerminated(spec.runId);
        return recovered;
      }
    }

    // Dagster imports user code per step anyway: its runs always spawn cold, no standby pool.
    if (spec.dagster) return this.spawnColdWithConfig(dir, spec);
    const standbySpec = this.standbySpec(spec);
    // A fresh spool only: after a crash the spool may already hold a dead attempt's files.
    const fresh = !existsSync(spool);
    let standby = fresh ? this.standbys.take(standbySpec) : undefined;
    if (!standby) {
      // A miss: this launch is already late and the ones behind it need standbys booting now.
      setImmediate(() => this.standbys.prewarm(standbySpec));
      // A booting one is further along than a cold spawn: take the first to turn ready (nothing
      // is recorded yet, so a crash meanwhile leaves no trace; it exits when our channel closes).
      if (fresh) standby = await this.standbys.nextReady(standbySpec);
    }
    if (standby) {
      const handle = await handOff(this.ctx, spec, standby);
      // Its replacement boots once this launch's first events are stored (launchSettled), in a
      // burst too: spawning forks this whole process (its main thread blocked 4-7 ms for the
      // ~140 MB agent, tens of ms wall under load) and the new worker's boot takes a core, both
      // of which landed on the launch report's trip. A burst loses little: its next launch
      // comes after this one's report, and a launch that misses refills the pool at once.
      if (handle) {
        this.refillLater(spec.runId, standbySpec, standby.dir);
        return handle;
      }
      setImmediate(() => this.standbys.prewarm(standbySpec));
    }
    return this.spawnColdWithConfig(dir, spec);
  }

  /**
   * A cold spawn reads the run config from config.json, written first (before the boot slot:
   * a run waiting for one shows only that file). A warm hand-off sends the config in its
   * message and writes none: one file creation fewer per run on the agent's main thread.
   */
  private spawnColdWithConfig(dir: string, spec: RunLaunchSpec): Promise<LaunchHandle> {
    const configFile = configFileOf(dir);
    writeAtomic(configFile, JSON.stringify(spec.runConfig));
    return spawnCold(this.ctx, spec, configFile);
  }

  /**
   * The launch of this run has reached the control plane (its first events are stored): start
   * what was held back off its path, the refill of the standby it took, on the next turn.
   * Idempotent; a launch that never reports this refills after REFILL_FALLBACK_MS anyway.
   */
  launchSettled(runId: string): void {
    const pending = this.pendingRefills.get(runId);
    if (!pending) return;
    this.pendingRefills.delete(runId);
    clearTimeout(pending.timer);
    // On the next turn: the caller (the launch activity) returns its result first, so the
    // fork does not hold back the workflow task that waits for it.
    setImmediate(() => {
      removeEmptiedStandbyDir(pending.standbyDir);
      this.standbys.prewarm(pending.spec);
    });
  }

  /** `standbyDir`: the taken standby's emptied directory (hand-off.ts), removed then too. */
  private refillLater(runId: string, spec: StandbySpec, standbyDir: string): void {
    const timer = setTimeout(() => this.launchSettled(runId), REFILL_FALLBACK_MS).unref();
    this.pendingRefills.set(runId, { spec, standbyDir, timer });
  }

  adopt(runId: string): Promise<LaunchHandle | undefined> {
    const rec = this.record(runId);
    if (!rec) return Promise.resolve(undefined);
    return Promise.resolve({ runId, launcher: this.kind, ref: `pid ${rec.pid}`, adopted: !this.children.has(runId) });
  }

  /** Runs whose recorded worker lives (read at the agent's start: what a previous process left). */
  recordedRuns(): string[] {
    return listRecordedProcesses(this.opts.dataDir)
      .filter((p) => p.kind === 'run' && isSameLiveProcess(p.record.pid, p.record.startTime))
      .map((p) => p.id);
  }

  async isAlive(runId: string): Promise<boolean> {
    const watched = this.children.get(runId);
    if (watched) return watched.exit === undefined;
    // The worker lives inside the sandbox, so its root does too (pid 1's end kills the namespace).
    const known = this.adoptedWorkers.get(runId);
    if (known && isSameLiveProcess(known.pid, known.startTime)) return true;
    this.adoptedWorkers.delete(runId);
    const rec = this.record(runId);
    if (rec === undefined || !isSameLiveProcess(rec.pid, rec.startTime)) return false;
    if (this.isolation.kind === 'none') return true;
    // Launched before a restart, so no exit was seen: its worker is gone when no process below
    // the sandbox's pid 1 runs the worker's command line, and what it left there ends with it.
    const match = rec.warm ? STANDBY_COMMAND : (readIntent(this.runDir(runId))?.match ?? outpostWorkerMatch(runId));
    const workerGone = (): boolean => outlivedItsWorker(rec, match);
    if (!isBwrap(rec.pid)) return true;
    const worker = workerBelow(rec.pid, match);
    if (worker !== rec.pid) {
      const stat = worker === undefined ? undefined : readProcStat(worker);
      if (stat) this.adoptedWorkers.set(runId, { pid: stat.pid, startTime: stat.startTime });
      return true;
    }
    let ending = this.endingRoots.get(runId);
    if (!ending) {
      ending = this.endRoot(runId, rec, workerGone).finally(() => this.endingRoots.delete(runId));
      this.endingRoots.set(runId, ending);
    }
    await ending;
    return isSameLiveProcess(rec.pid, rec.startTime);
  }

  signal(runId: string, signal: NodeJS.Signals): Promise<boolean> {
    const rec = this.record(runId);
    return Promise.resolve(rec !== undefined && signalRecordedGroup(rec, signal));
  }

  recordTermination(runId: string): void {
    const dir = this.runDir(runId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, TERMINATE_REQUESTED), JSON.stringify({ at: Date.now() }), { mode: 0o600 });
  }

  terminationRequested(runId: string): boolean {
    return existsSync(join(this.runDir(runId), TERMINATE_REQUESTED));
  }

  /**
   * A worker recovered after a crash (spawned, never recorded) whose workflow asked to stop the
   * run meanwhile: terminateProcess found no record to signal then, so it is stopped now
   * (SIGTERM, then SIGKILL after the workflow's default grace). Supervision sees it exit.
   */
  private stopIfTerminated(runId: string): void {
    if (!this.terminationRequested(runId)) return;
    this.opts.logger.warn({ runId }, 'run worker recovered after its termination was requested: stopping it');
    void this.requestTermination(runId);
    setTimeout(() => void this.signal(runId, 'SIGKILL'), RECOVERED_TERMINATE_GRACE_MS).unref();
  }

  /**
   * Writes the spool's termination marker. The spool is writable by the run's user code, which
   * may have put a symlink (to the agent's token file, its database) or a FIFO at that name:
   * never followed nor waited on. Without the marker the worker still gets its SIGTERM; it only
   * cannot tell the failure the stop caused from the run's own.
   */
  private markTerminated(runId: string, file: string): void {
    let fd: number | undefined;
    try {
      fd = openSync(file, MARKER_WRITE, 0o600);
      if (!fstatSync(fd).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
      writeSync(fd, JSON.stringify({ at: Date.now() }));
    } catch (err) {
      this.opts.logger.warn(
        { runId, file, err: (err as NodeJS.ErrnoException).code ?? String(err) },
        'termination marker not written (a symlink or FIFO at its name in the spool?); the worker still gets its SIGTERM',
      );
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  async requestTermination(runId: string): Promise<boolean> {
    const spool = this.spoolDir(runId);
    if (existsSync(spool)) this.markTerminated(runId, join(spool, SPOOL_FILES.terminated));
    // A worker spawned by an agent killed before it recorded it gets the SIGTERM too. Not waiting
    // for a launch under way here (the poller's local SIGTERM must not): terminateProcess does.
    if (!this.launching.has(runId)) await this.recoverLaunch(runId);
    return this.signal(runId, 'SIGTERM');
  }

  /**
   * The run's worker, recorded, or started by a launch cut short here (an agent killed between
   * its intent and its record: found in /proc and recorded now, recovery.ts); never spawns. A
   * launch under way in this process is waited for first (recovery would find its worker
   * before its record and record that one spawn twice).
   */
  async recoverLaunch(runId: string): Promise<LaunchHandle | undefined> {
    await this.launching.get(runId)?.catch(noop);
    const recorded = await this.adopt(runId);
    if (recorded || !hasIntent(this.runDir(runId))) return recorded;
    return recover(this.ctx, runId);
  }

  whenExited(runId: string): Promise<void> | undefined {
    return this.children.get(runId)?.exited;
  }

  exitStatus(runId: string): ExitStatus | undefined {
    const watched = this.children.get(runId);
    if (watched) return watched.exit;
    const rec = this.record(runId);
    if (!rec || isSameLiveProcess(rec.pid, rec.startTime)) return undefined;
    return { code: null, signal: null, known: false };
  }

  /** Whether this process is launching the run or supervising its live worker (retention keeps it). */
  busy(runId: string): boolean {
    return this.launching.has(runId) || this.running().includes(runId);
  }

  /** Runs whose worker this process spawned and that are still running (for heartbeats). */
  running(): string[] {
    return [...this.children].filter(([, c]) => c.exit === undefined).map(([runId]) => runId);
  }

  /** Live members of the run's process group (tests assert none survive termination). */
  groupMembers(runId: string): number[] {
    const rec = this.record(runId);
    return rec ? processGroupMembers(rec.pgid) : [];
  }

  private record(runId: string): ProcessRecord | undefined {
    return readProcessRecord(this.runDir(runId));
  }

  /**
   * The run's recorded root, a sandbox's pid 1, once its worker is gone: ended by itself or, what
   * the worker left running keeping it, with SIGKILL (sandbox-end.ts), while `workerGone()` holds.
   */
  private endRoot(runId: string, rec: ProcessRecord, workerGone: () => boolean): Promise<void> {
    return endRootAfterWorker(rec, workerGone, () =>
      this.opts.logger.warn(
        { runId, pid: rec.pid },
        'run worker exited leaving processes in its sandbox; killing them',
      ),
    );
  }

  private watch(runId: string, child: ChildProcess): void {
    let settle = (): void => undefined;
    const exited = new Promise<void>((resolve) => (settle = resolve));
    const entry: { child: ChildProcess; exit?: ExitStatus; exited: Promise<void> } = { child, exited };
    this.children.set(runId, entry);
    child.once('exit', (rawCode, rawSignal) => {
      const { code, signal } = this.isolation.exit(rawCode, rawSignal);
      // Exited means the recorded process is gone too: bubblewrap's outer process exits as soon
      // as its pid 1 reports the command's status, a moment before that pid 1 itself is gone.
      // Only an exit with a code reports the worker's end (bwrap reports its death by signal N
      // as 128+N): killed by a signal itself, the outer process leaves the worker running on.
      const rec = this.record(runId);
      const rootGone =
        rec && rec.pid !== child.pid ? this.endRoot(runId, rec, () => rawSignal === null) : Promise.resolve();
      void rootGone.then(() => {
        entry.exit = { code, signal, known: true };
        this.opts.logger.info({ runId, code, signal }, 'run worker exited');
        settle();
      });
    });
    child.once('error', (err) => {
      entry.exit = { code: null, signal: null, known: true };
      this.opts.logger.error({ runId, err }, 'run worker process error');
      settle();
    });
  }
}
