// Runs each run worker as a local process: `outpost api execute-run`, detached in its own
// process group, stdout/stderr appended to the spool's log files.
//
// Exactly one spawn per run, even across kill -9 of the agent at any instant:
//   1. write intent.json (we are about to spawn);
//   2. spawn (synchronous: returns the pid);
//   3. append to spawns.log and write process.json {pid, startTime} (read from /proc).
// On any later call: process.json present → adopt it (alive or finished, never respawn).
// intent.json without process.json → the agent died inside the window; look for the worker
// by its command line in /proc; if found, record and adopt it; if its spool shows it already
// ran, adopt the finished run; only if there is no trace at all is it spawned.
//
// Warm path: when the standby pool (standby-pool.ts) has a ready worker for the location's
// version, the run is handed to it instead of spawning. Same files, same order: intent.json
// (naming the standby), the standby's spool moved into the run, the run sent over IPC and
// acknowledged, then spawns.log + process.json. A standby claims the run (a file in the spool
// that only one side can create) before it writes RUN_START and acknowledges after; an agent that stops
// waiting (timeout, crash recovery) claims it before killing the standby, so exactly one of
// them ever runs it, whichever deadline expires under load.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../shared/logger.js';
import { OutpostError } from '../../shared/errors.js';
import { SPOOL_FILES } from '../../shared/run-events.js';
import { credentialFreeEnv } from '../../shared/child-env.js';
import {
  claimHandoff,
  isStandbyMessage,
  handoffClaimant,
  type StandbyRunMessage,
} from '../../shared/standby-protocol.js';
import type { ExitStatus, LaunchHandle, Launcher, RunLaunchSpec } from './launcher.js';
import { findProcessByArgs, isSameLiveProcess, processGroupMembers, readProcStat } from './proc.js';
import {
  configFileOf,
  forgetStandbyProcess,
  hasIntent,
  readIntent,
  readProcessRecord,
  recordRunProcess,
  runDir,
  signalRecordedGroup,
  spawnCount,
  spoolOf,
  writeAtomic,
  writeIntent,
  type IntentRecord,
  type ProcessRecord,
} from './run-records.js';
import { noIsolation, preferSandboxRoot, standbySpoolInside, type Isolation } from './sandbox.js';
import { lowerPriority } from './priority.js';
import { StandbyPool, type Standby, type StandbySpec } from './standby-pool.js';

export interface ProcessLauncherOptions {
  /** Agent data dir; runs live in <dataDir>/runs/<runId>/. */
  dataDir: string;
  logger: Logger;
  /** Command that starts the CLI; default: this Node with tsx on src/cli/main.ts. */
  cliCommand?: string[];
  /** Base environment for workers; default process.env (credentials are always stripped). */
  env?: NodeJS.ProcessEnv;
  /** Secrets the agent holds (its token): no variable carrying one reaches a worker. */
  secrets?: string[];
  /** How workers are kept from the agent's credentials (sandbox.ts); default none. */
  isolation?: Isolation;
  /** Niceness added to each run worker (0 = the agent's priority); default 0. */
  nice?: number;
  /** Warm standby workers kept per code-location version; default 0 (every run spawns cold). */
  warmWorkers?: number;
  /** The current version of a code location, so standbys never run superseded code. */
  locationVersion?: (location: string) => number | undefined;
}

/**
 * How long a standby gets to acknowledge a run before it is killed and the run spawns cold. It
 * is alive and booted, so only CPU starvation delays it: generous, a cold spawn would be slower.
 */
const HANDOFF_TIMEOUT_MS = 30_000;
/** After an agent crash, how long a named standby gets to show it took the run (or exit). */
const RECOVER_STANDBY_WAIT_MS = 5_000;

const MAIN_TS = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

/** `node --import <tsx> src/cli/main.ts`: works from any cwd, since tsx is resolved from here. */
export function defaultCliCommand(): string[] {
  return [process.execPath, '--import', import.meta.resolve('tsx'), MAIN_TS];
}

export class ProcessLauncher implements Launcher {
  readonly kind = 'process';
  private readonly children = new Map<string, { child: ChildProcess; exit?: ExitStatus }>();
  private readonly cli: string[];
  private readonly isolation: Isolation;
  readonly standbys: StandbyPool;

  constructor(private readonly opts: ProcessLauncherOptions) {
    this.cli = opts.cliCommand ?? defaultCliCommand();
    this.isolation = opts.isolation ?? noIsolation;
    this.standbys = new StandbyPool({
      dataDir: opts.dataDir,
      logger: opts.logger,
      cli: this.cli,
      env: opts.env ?? process.env,
      secrets: opts.secrets ?? [],
      isolation: this.isolation,
      perKey: opts.warmWorkers ?? 0,
      ...(opts.nice ? { nice: opts.nice } : {}),
    });
  }

  /** Starts warm standbys for a location (called when it loads, and after each launch). */
  prewarm(spec: Omit<RunLaunchSpec, 'runId' | 'job' | 'runConfig'>): void {
    this.standbys.prewarm(this.standbySpec(spec));
  }

  /** Retires idle standbys (they exit without running anything). */
  stop(): void {
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

  async launch(spec: RunLaunchSpec): Promise<LaunchHandle> {
    const existing = await this.adopt(spec.runId);
    if (existing) return existing;
    const dir = this.runDir(spec.runId);
    const spool = this.spoolDir(spec.runId);
    mkdirSync(dir, { recursive: true });

    if (hasIntent(dir)) {
      const recovered = await this.recover(spec.runId);
      if (recovered) return recovered;
    }

    const configFile = configFileOf(dir);
    writeAtomic(configFile, JSON.stringify(spec.runConfig));
    const standbySpec = this.standbySpec(spec);
    // A fresh spool only: after a crash the spool may already hold a dead attempt's files.
    const standby = existsSync(spool) ? undefined : this.standbys.take(standbySpec);
    // Refill (or first fill) the pool for the next launch of this location, off the hot path.
    setImmediate(() => this.standbys.prewarm(standbySpec));
    // A standby still booting is further along than a cold spawn: wait for it (nothing is
    // recorded yet, so a crash meanwhile leaves no trace; it exits when our channel closes).
    if (standby && (await standby.whenReady)) {
      const handle = await this.handOff(spec, standby);
      if (handle) return handle;
    } else if (standby) {
      standby.child.unref();
      rmSync(standby.dir, { recursive: true, force: true });
      this.opts.logger.warn(
        { runId: spec.runId, pid: standby.pid },
        'standby run worker did not become ready; spawning',
      );
    }
    mkdirSync(spool, { recursive: true });
    writeIntent(dir, { runId: spec.runId, at: Date.now() });

    const module = resolve(spec.cwd ?? process.cwd(), spec.module);
    const cmd = this.isolation.command(
      [
        ...this.cli,
        'api',
        'execute-run',
        '--run-id',
        spec.runId,
        '--module',
        module,
        '--job',
        spec.job,
        '--config-file',
        configFile,
        '--spool-dir',
        spool,
      ],
      { cwd: spec.cwd ?? process.cwd(), readable: [dirname(module), configFile], writable: [spool] },
    );
    // The log files are opened by us in append mode so a worker's output survives our restarts.
    const out = openSync(join(spool, SPOOL_FILES.stdout), 'a');
    const err = openSync(join(spool, SPOOL_FILES.stderr), 'a');
    let child: ChildProcess;
    try {
      child = spawn(cmd[0]!, cmd.slice(1), {
        cwd: spec.cwd ?? process.cwd(),
        detached: true,
        stdio: ['ignore', out, err],
        env: credentialFreeEnv(
          this.opts.env ?? process.env,
          { ...spec.env, OUTPOST_RUN_ID: spec.runId },
          { secrets: this.opts.secrets ?? [] },
        ),
      });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    if (child.pid === undefined) {
      throw new OutpostError('RUN_WORKER_SPAWN_FAILED', { detail: `run ${spec.runId}: spawn returned no pid` });
    }
    // Watch at once, so an exit while the sandbox's root is looked up is never missed.
    this.watch(spec.runId, child);
    // The process that stands for the worker's tree: itself, or its sandbox's pid 1.
    const pid = (await this.isolation.root(child.pid)) ?? child.pid;
    if (this.opts.nice)
      lowerPriority(pid, this.opts.nice, (err) =>
        this.opts.logger.warn({ runId: spec.runId, pid, err: err.message }, 'could not lower the run worker priority'),
      );
    const stat = readProcStat(pid);
    const record: ProcessRecord = {
      pid,
      startTime: stat?.startTime ?? -1,
      pgid: stat?.pgrp ?? pid,
      spawnedAt: Date.now(),
    };
    recordRunProcess(dir, record);
    child.unref();
    this.opts.logger.info({ runId: spec.runId, pid }, 'spawned run worker');
    return { runId: spec.runId, launcher: this.kind, ref: `pid ${pid}`, adopted: false };
  }

  adopt(runId: string): Promise<LaunchHandle | undefined> {
    const rec = this.record(runId);
    if (!rec) return Promise.resolve(undefined);
    return Promise.resolve({ runId, launcher: this.kind, ref: `pid ${rec.pid}`, adopted: !this.children.has(runId) });
  }

  isAlive(runId: string): Promise<boolean> {
    const watched = this.children.get(runId);
    if (watched) return Promise.resolve(watched.exit === undefined);
    const rec = this.record(runId);
    return Promise.resolve(rec !== undefined && isSameLiveProcess(rec.pid, rec.startTime));
  }

  signal(runId: string, signal: NodeJS.Signals): Promise<boolean> {
    const rec = this.record(runId);
    return Promise.resolve(rec !== undefined && signalRecordedGroup(rec, signal));
  }

  exitStatus(runId: string): ExitStatus | undefined {
    const watched = this.children.get(runId);
    if (watched) return watched.exit;
    const rec = this.record(runId);
    if (!rec || isSameLiveProcess(rec.pid, rec.startTime)) return undefined;
    return { code: null, signal: null, known: false };
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
   * Hands the run to a ready standby. Returns undefined when it did not take it (it died, or
   * did not answer in time and was killed without writing anything): then spawn cold.
   */
  private async handOff(spec: RunLaunchSpec, sb: Standby): Promise<LaunchHandle | undefined> {
    const dir = this.runDir(spec.runId);
    const spool = this.spoolDir(spec.runId);
    const intent: IntentRecord = {
      runId: spec.runId,
      at: Date.now(),
      standby: { pid: sb.pid, startTime: sb.startTime },
    };
    writeIntent(dir, intent);
    // The run config travels in the message (a file in the standby's directory could be wiped
    // by a restarting agent before the worker read it). A sandboxed standby keeps writing its
    // spool at a fixed path inside: its bind mount follows the directory we rename.
    const sandboxed = this.isolation.kind !== 'none';
    renameSync(spoolOf(sb.dir), spool);
    // From here it is the run's worker, recorded by the run (intent now, process.json once it
    // accepts): never again an idle standby to clean up.
    forgetStandbyProcess(sb.dir);
    rmSync(sb.dir, { recursive: true, force: true });
    // Watch before sending, so an exit during the handoff is never missed.
    this.watch(spec.runId, sb.child);
    const message: StandbyRunMessage = {
      type: 'run',
      runId: spec.runId,
      job: spec.job,
      runConfig: spec.runConfig,
      spoolDir: sandboxed ? standbySpoolInside(this.opts.dataDir) : spool,
    };
    const accepted = await new Promise<boolean>((done) => {
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        sb.child.off('message', onMessage);
        sb.child.off('exit', onExit);
        done(ok);
      };
      const onMessage = (m: unknown): void => {
        if (isStandbyMessage(m) && m.type === 'accepted' && m.runId === spec.runId) finish(true);
      };
      const onExit = (): void => finish(false);
      const timer = setTimeout(() => finish(false), HANDOFF_TIMEOUT_MS);
      sb.child.on('message', onMessage);
      sb.child.once('exit', onExit);
      sb.child.send(message, (err) => {
        if (err) finish(false);
      });
    });
    sb.child.unref();
    (sb.child.channel as { unref?: () => void } | undefined)?.unref?.();
    // No answer in time: claim the run before killing. If the standby claimed it first, it is
    // running it (only slowly): keep it. Otherwise it can never start it, whatever it does next.
    if (!accepted && isSameLiveProcess(sb.pid, sb.startTime) && claimHandoff(spool, 'agent') === 'taken') {
      this.opts.logger.warn({ runId: spec.runId, pid: sb.pid }, 'standby run worker took the run late; keeping it');
    } else if (!accepted) {
      try {
        process.kill(-sb.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      this.children.delete(spec.runId);
      if (!hasEvents(spool)) {
        this.opts.logger.warn({ runId: spec.runId, pid: sb.pid }, 'standby run worker did not take the run; spawning');
        return undefined;
      }
    }
    const rec: ProcessRecord = {
      pid: sb.pid,
      startTime: sb.startTime,
      pgid: sb.pid,
      spawnedAt: Date.now(),
      warm: true,
    };
    recordRunProcess(dir, rec);
    this.opts.logger.info({ runId: spec.runId, pid: sb.pid }, 'handed run to a warm run worker');
    return { runId: spec.runId, launcher: this.kind, ref: `pid ${sb.pid} (warm)`, adopted: false };
  }

  /** The crash window: intent written, no record. Finds the worker instead of spawning a second. */
  private async recover(runId: string): Promise<LaunchHandle | undefined> {
    const dir = this.runDir(runId);
    const intent = readIntent(dir);
    if (intent?.standby) {
      const found = await this.recoverStandby(runId, intent.standby);
      if (found) return found;
    }
    const pid = findProcessByArgs(['execute-run', '--run-id', runId], preferSandboxRoot);
    if (pid !== undefined) {
      const stat = readProcStat(pid);
      const rec: ProcessRecord = {
        pid,
        startTime: stat?.startTime ?? -1,
        pgid: stat?.pgrp ?? pid,
        spawnedAt: Date.now(),
        recovered: true,
      };
      // The spawn happened (in the crashed attempt) but was never logged: log it now, once.
      recordRunProcess(dir, rec);
      this.opts.logger.warn({ runId, pid }, 'adopted a run worker found after a crash between spawn and record');
      return { runId, launcher: this.kind, ref: `pid ${pid}`, adopted: true };
    }
    const events = join(this.spoolDir(runId), SPOOL_FILES.events);
    if (existsSync(events) && statSync(events).size > 0) {
      // It ran and has already exited: supervise will ship what it wrote.
      const rec: ProcessRecord = { pid: -1, startTime: -1, pgid: -1, spawnedAt: Date.now(), recovered: true };
      recordRunProcess(dir, rec);
      this.opts.logger.warn({ runId }, 'run worker already exited before its launch was recorded; adopting its spool');
      return { runId, launcher: this.kind, ref: 'exited before record', adopted: true };
    }
    return undefined;
  }

  /**
   * The crashed agent was handing this run to a standby. A standby that took it has claimed
   * it and written RUN_START; one that did not exits when it notices its channel closed. Wait
   * (bounded) to see which; if still undecided then, the claim decides (standby-protocol.ts),
   * so a deadline that expires under load never kills a run that has started.
   */
  private async recoverStandby(
    runId: string,
    sb: { pid: number; startTime: number },
  ): Promise<LaunchHandle | undefined> {
    const spool = this.spoolDir(runId);
    // An earlier agent may have claimed it already (and died before spawning): then the
    // standby can never run it either.
    const decided = (): boolean => hasEvents(spool) || handoffClaimant(spool) !== undefined;
    let alive = isSameLiveProcess(sb.pid, sb.startTime);
    for (let waited = 0; alive && !decided() && waited < RECOVER_STANDBY_WAIT_MS; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      alive = isSameLiveProcess(sb.pid, sb.startTime);
    }
    if (alive && !hasEvents(spool)) {
      // Still undecided: claim the run. Lost, the standby claimed it first and is starting it
      // (only slowly, e.g. on a starved CPU): adopt it. Won (or an earlier agent won), it can
      // never start it: kill it.
      if (handoffClaimant(spool) === undefined) claimHandoff(spool, 'agent');
      if (handoffClaimant(spool) !== 'standby') {
        try {
          process.kill(-sb.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
        alive = false;
      }
    }
    if (!alive) return undefined; // the events check in recover() decides: adopt its spool or spawn
    const rec: ProcessRecord = {
      pid: sb.pid,
      startTime: sb.startTime,
      pgid: sb.pid,
      spawnedAt: Date.now(),
      recovered: true,
      warm: true,
    };
    recordRunProcess(this.runDir(runId), rec);
    this.opts.logger.warn({ runId, pid: sb.pid }, 'adopted a warm run worker found after a crash during its handoff');
    return { runId, launcher: this.kind, ref: `pid ${sb.pid} (warm)`, adopted: true };
  }

  private watch(runId: string, child: ChildProcess): void {
    const entry: { child: ChildProcess; exit?: ExitStatus } = { child };
    this.children.set(runId, entry);
    child.once('exit', (rawCode, rawSignal) => {
      const { code, signal } = this.isolation.exit(rawCode, rawSignal);
      entry.exit = { code, signal, known: true };
      this.opts.logger.info({ runId, code, signal }, 'run worker exited');
    });
    child.once('error', (err) => {
      entry.exit = { code: null, signal: null, known: true };
      this.opts.logger.error({ runId, err }, 'run worker process error');
    });
  }
}

function hasEvents(spool: string): boolean {
  try {
    return statSync(join(spool, SPOOL_FILES.events)).size > 0;
  } catch {
    return false;
  }
}
