// Warm standby run workers: a few processes per code-location version, started ahead of any
// run with Node, tsx, Outpost and the location already imported (`outpost api
// run-worker-standby`). A launch takes a ready one and hands it the run over IPC instead of
// paying ~250-400 ms of process start and module load on the dispatch path.
//
// Each standby lives in <dataDir>/standby/<id>/ (layout in run-records.ts), recorded there while
// idle, with its stdout.log/stderr.log opened by detached-spawn.ts (append, 0600) as its fd
// 1/2 in spool/. The launcher moves that spool directory into the run (a rename keeps the open
// files), so whatever the worker prints lands in the run's logs.
//
// Launches faster than boots: a launch finding none ready takes the first of its key's booting
// standbys to turn ready (one waiting launch per booting standby; any further one spawns cold at
// once), and every such miss raises the key's target for a while: the pool grows in a burst.
//
// A standby only ever runs code of the location version it was started for: the key holds
// the location, its version, module, working directory and environment, and starting a newer
// version retires the older ones. Idle standbys exit when the agent disconnects (or dies); a
// restarted agent kills any recorded idle standby of its predecessor still there.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../shared/logger.js';
import { newId } from '../../shared/ids.js';
import { isStandbyMessage, type StandbyMessage } from '../../shared/standby-protocol.js';
import { spawnDetached } from './detached-spawn.js';
import type { NodeCaStore } from './node-ca.js';
import { readProcStat } from './proc.js';
import {
  listRecordedProcesses,
  recordStandbyProcess,
  signalRecordedGroup,
  spoolOf,
  standbyDir,
  standbyRoot,
} from './run-records.js';
import { noIsolation, standbySpoolInside, type Isolation } from './sandbox.js';
import { lowerPriority } from './priority.js';

/**
 * A standby's command after the CLI's own arguments; also how it reads in /proc once it runs a
 * run (its command line names no run: the run comes over IPC).
 */
export const STANDBY_COMMAND: readonly string[] = ['api', 'run-worker-standby'];

/** What a standby is started for; equal keys are interchangeable. */
export interface StandbySpec {
  location: string;
  /** The code location's version (a redeploy or reload bumps it); undefined = unversioned. */
  version?: number;
  /** Absolute path of the definitions module. */
  module: string;
  cwd: string;
  env: Record<string, string>;
}

export interface Standby {
  id: string;
  key: string;
  location: string;
  version: number | undefined;
  child: ChildProcess;
  /** The process standing for it (itself, or its sandbox's pid 1; final once it is ready). */
  pid: number;
  startTime: number;
  /** <dataDir>/standby/<id>; its spool/ subdirectory holds the open log files. */
  dir: string;
  state: 'booting' | 'ready' | 'failed' | 'gone';
  /** Handed to the launcher (always once ready): from now on its exit is the launcher's business. */
  taken?: boolean;
  /** When it was spawned, on the pool's clock (its boot time, once ready, is its key's). */
  spawnedAt?: number;
}

/** A launch waiting for the first of its key's booting standbys to turn ready. */
interface Waiter {
  key: string;
  resolve: (sb: Standby | undefined) => void;
}

export interface StandbyPoolOptions {
  dataDir: string;
  logger: Logger;
  /** Command that starts the CLI (node + tsx + main.ts by default, from the launcher). */
  cli: string[];
  env: NodeJS.ProcessEnv;
  /** Secrets the agent holds: no variable carrying one reaches a standby. */
  secrets?: string[];
  /** The agent's certificate store for Outpost's own workers (node-ca.ts). */
  nodeCa?: NodeCaStore;
  /** Standbys are sandboxed from the start: they run user code (the import) before any run. */
  isolation?: Isolation;
  /** Standbys kept per key at rest; 0 disables the pool. */
  perKey: number;
  /**
   * Upper bound while launches outrun the pool: each launch that finds no ready standby raises
   * its key's target by one, up to this; default max(perKey, 4).
   */
  maxPerKey?: number;
  /** After this long without such a miss, a key's target falls back to `perKey`; default 60 s. */
  burstDecayMs?: number;
  clock?: () => number;
  /** Niceness added to standbys, as for cold-spawned run workers. */
  nice?: number;
}

/** A key's target above `perKey`, raised by launches that found no ready standby. */
interface Burst {
  target: number;
  lastMissAt: number;
}

/** After a standby fails to import its location, that key is not pre-warmed again for this long. */
const FAILED_KEY_PAUSE_MS = 60_000;

export function standbyKey(spec: StandbySpec): string {
  const env = Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([spec.location, spec.version ?? null, spec.module, spec.cwd, env]);
}

export class StandbyPool {
  private readonly standbys = new Map<string, Standby>();
  private readonly failedKeys = new Map<string, number>();
  private readonly bursts = new Map<string, Burst>();
  /** Per key: the last take, and how long its last standby took from spawn to ready. */
  private readonly lastTakeAt = new Map<string, number>();
  private readonly bootMs = new Map<string, number>();
  /** In arrival order: the first waiter of a key gets the first of its standbys to turn ready. */
  private readonly waiters: Waiter[] = [];
  private readonly decayTimer: NodeJS.Timeout;
  private stopped = false;
  /** Spawns done, for benchmarks and tests. */
  spawned = 0;

  constructor(private readonly opts: StandbyPoolOptions) {
    // Standbys of an earlier agent process exit on their own (their channel closed with it);
    // one still recorded (it was busy importing when the agent died) never got a run (a taken
    // standby's record is removed before the run is sent), so it goes. Their directories hold
    // nothing a run needs (a taken standby's spool was moved away).
    // A pool with nothing to keep warm (`outpost agent poller`) leaves the directory alone.
    if (opts.perKey > 0) {
      for (const p of listRecordedProcesses(opts.dataDir)) {
        if (p.kind === 'standby') signalRecordedGroup(p.record, 'SIGKILL');
      }
      rmSync(standbyRoot(opts.dataDir), { recursive: true, force: true });
    }
    this.decayTimer = setInterval(() => this.decay(), Math.max(1_000, this.decayMs() / 4)).unref();
  }

  private now(): number {
    return (this.opts.clock ?? Date.now)();
  }

  private decayMs(): number {
    return this.opts.burstDecayMs ?? 60_000;
  }

  /** How many standbys a key should have now (booting or ready). */
  target(key: string): number {
    const burst = this.bursts.get(key);
    if (!burst || this.now() - burst.lastMissAt > this.decayMs()) return this.opts.perKey;
    return burst.target;
  }

  /** Launches of this spec recently outran the pool (its target is raised). */
  inBurst(spec: StandbySpec): boolean {
    return this.target(standbyKey(spec)) > this.opts.perKey;
  }

  /** Keys whose burst has passed go back to `perKey`: surplus idle standbys are retired. */
  private decay(): void {
    for (const [key, burst] of this.bursts) {
      if (this.now() - burst.lastMissAt <= this.decayMs()) continue;
      this.bursts.delete(key);
      const idle = [...this.standbys.values()].filter((s) => s.key === key && s.state === 'ready');
      for (const sb of idle.slice(this.opts.perKey)) this.retire(sb, 'the burst of launches is over');
    }
  }

  get enabled(): boolean {
    return this.opts.perKey > 0 && !this.stopped;
  }

  /** Starts standbys until the key has its target (booting or ready); retires older versions. */
  prewarm(spec: StandbySpec): void {
    if (!this.enabled) return;
    const key = standbyKey(spec);
    const failedAt = this.failedKeys.get(key);
    if (failedAt !== undefined && Date.now() - failedAt < FAILED_KEY_PAUSE_MS) return;
    for (const sb of this.standbys.values()) {
      if (sb.location === spec.location && sb.key !== key && (sb.version ?? -1) < (spec.version ?? -1)) {
        this.retire(sb, 'a newer version of its location is loaded');
      }
    }
    // A booting one promised to a waiting launch is as good as taken: replace it now.
    const have =
      [...this.standbys.values()].filter((s) => s.key === key && (s.state === 'booting' || s.state === 'ready'))
        .length - this.waiting(key);
    for (let i = have; i < this.target(key); i++) {
      try {
        this.spawnOne(spec, key);
      } catch (err) {
        // Its directory or record could not be written (a full disk, a path that is not a
        // directory): runs start cold meanwhile, and the key is tried again after a pause. An
        // uncaught throw here (it runs from setImmediate) would end the agent.
        this.failedKeys.set(key, Date.now());
        this.opts.logger.warn(
          { location: spec.location, err: (err as Error).message, errno: (err as NodeJS.ErrnoException).code },
          "could not start a standby run worker: its files could not be written under the agent's data directory (free space there); runs of this location start cold until it works",
        );
        break;
      }
    }
  }

  /** A ready standby for this spec, removed, else undefined: a miss raises the key's target (up to maxPerKey). */
  take(spec: StandbySpec): Standby | undefined {
    if (!this.enabled) return undefined;
    const key = standbyKey(spec);
    const ready = [...this.standbys.values()].find((s) => s.key === key && s.state === 'ready' && s.child.connected);
    const previous = this.lastTakeAt.get(key);
    this.lastTakeAt.set(key, this.now());
    if (!ready) {
      this.raise(key);
      return undefined;
    }
    const taken = this.hand(ready);
    // A near miss: none is left ready, and launches come sooner apart than a standby boots, so
    // the next one would wait for this one's replacement (~100 ms under load): grow now, as a
    // miss would, instead of after it made a launch wait.
    const boot = this.bootMs.get(key);
    const left = [...this.standbys.values()].some((s) => s.key === key && s.state === 'ready');
    if (!left && previous !== undefined && boot !== undefined && this.now() - previous < boot) this.raise(key);
    return taken;
  }

  /** Launches outran (or are about to outrun) the key's standbys: its target grows by one, up to maxPerKey. */
  private raise(key: string): void {
    const max = this.opts.maxPerKey ?? Math.max(this.opts.perKey, 4);
    this.bursts.set(key, { target: Math.min(max, this.target(key) + 1), lastMissAt: this.now() });
  }

  /**
   * After a miss: the first of this key's booting standbys to turn ready (it is further along
   * than a cold spawn), shared in arrival order among the launches waiting; undefined at once
   * when every booting one is already promised to an earlier launch (spawn cold), or later when
   * they fail or exit first.
   */
  nextReady(spec: StandbySpec): Promise<Standby | undefined> {
    if (!this.enabled) return Promise.resolve(undefined);
    const key = standbyKey(spec);
    if (this.booting(key) <= this.waiting(key)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      // Idle standbys do not keep the event loop alive; a launch waiting on one must.
      const hold = setInterval(() => undefined, 1 << 30);
      const done = (sb: Standby | undefined): void => {
        clearInterval(hold);
        resolve(sb);
      };
      this.waiters.push({ key, resolve: done });
    });
  }

  private booting(key: string): number {
    return [...this.standbys.values()].filter((s) => s.key === key && s.state === 'booting' && s.child.connected)
      .length;
  }

  private waiting(key: string): number {
    return this.waiters.filter((w) => w.key === key).length;
  }

  /** Removes it from the idle set and makes it the caller's. */
  private hand(sb: Standby): Standby {
    this.standbys.delete(sb.id);
    sb.taken = true;
    // Someone now runs a run on it: its messages and exit must keep the event loop alive until
    // the handoff is done (the launcher unrefs it again, as it does every run worker).
    sb.child.ref();
    (sb.child.channel as { ref?: () => void } | undefined)?.ref?.();
    return sb;
  }

  /** A standby just turned ready: the first launch waiting for its key takes it. */
  private offer(sb: Standby): void {
    const i = this.waiters.findIndex((w) => w.key === sb.key);
    if (i < 0) return;
    const [w] = this.waiters.splice(i, 1);
    w!.resolve(this.hand(sb));
  }

  /** A booting standby went away: launches that can no longer be served by one spawn cold now. */
  private release(key: string): void {
    for (let excess = this.waiting(key) - this.booting(key); excess > 0; excess--) {
      const i = this.waiters.findLastIndex((w) => w.key === key);
      const [w] = this.waiters.splice(i, 1);
      w!.resolve(undefined);
    }
  }

  /** Idle standbys: how many per state (metrics, tests). */
  counts(): Record<Standby['state'], number> {
    const c = { booting: 0, ready: 0, failed: 0, gone: 0 };
    for (const s of this.standbys.values()) c[s.state]++;
    return c;
  }

  /** Pids of idle standbys (tests check none outlive the agent). */
  pids(): number[] {
    return [...this.standbys.values()].map((s) => s.pid);
  }

  /** Disconnects every idle standby; each exits without running anything. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.decayTimer);
    for (const sb of [...this.standbys.values()]) this.retire(sb, 'the agent is stopping');
    for (const w of this.waiters.splice(0)) w.resolve(undefined);
  }

  private spawnOne(spec: StandbySpec, key: string): void {
    const id = newId('sb');
    const dir = standbyDir(this.opts.dataDir, id);
    const spool = spoolOf(dir);
    mkdirSync(spool, { recursive: true, mode: 0o700 });
    const isolation = this.opts.isolation ?? noIsolation;
    // Bound: its spool, a mount that stays reachable once the launcher renames it into the run
    // (sandbox.ts). The run config comes in the run message.
    const child = spawnDetached({
      cmd: [...this.opts.cli, ...STANDBY_COMMAND, '--module', spec.module],
      isolation,
      place: {
        cwd: spec.cwd,
        readable: [dirname(spec.module)],
        writable: [isolation.kind === 'none' ? spool : { path: spool, at: standbySpoolInside(this.opts.dataDir) }],
      },
      logDir: spool,
      baseEnv: this.opts.env,
      extraEnv: spec.env,
      secrets: this.opts.secrets ?? [],
      ...(this.opts.nodeCa ? { nodeCa: this.opts.nodeCa } : {}),
      ipc: true,
    });
    const pid = child.pid;
    if (pid === undefined) {
      this.opts.logger.warn({ location: spec.location }, 'could not start a standby run worker');
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    this.spawned++;
    // Recorded at once (so `outpost dev` can stop it even mid-boot), again once its sandbox's
    // pid 1 is known (below).
    const startTime = readProcStat(pid)?.startTime ?? -1;
    try {
      recordStandbyProcess(dir, { pid, startTime, pgid: pid, spawnedAt: Date.now() });
    } catch (err) {
      // Unrecorded, a crash of the agent would leave it running unseen: it goes now.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const root = isolation.root(pid);
    const nice = this.opts.nice;
    // Best effort, as for cold workers.
    if (nice) void root.then((r) => lowerPriority(r ?? pid, nice, () => undefined));
    const sb: Standby = {
      id,
      key,
      location: spec.location,
      version: spec.version,
      child,
      pid,
      startTime,
      dir,
      state: 'booting',
      spawnedAt: this.now(),
    };
    this.standbys.set(id, sb);
    // Idle standbys must not keep the agent's event loop alive.
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    child.on('message', (m: unknown) => {
      if (!isStandbyMessage(m) || m.type !== 'ready' || sb.state !== 'booting') return;
      // It has run code, so its sandbox's pid 1 exists: that is what a launch records.
      void root.then((r) => {
        if (r !== undefined && r !== sb.pid) {
          sb.pid = r;
          const st = readProcStat(r);
          sb.startTime = st?.startTime ?? -1;
          if (!sb.taken && sb.state === 'booting') {
            try {
              recordStandbyProcess(sb.dir, {
                pid: r,
                startTime: sb.startTime,
                pgid: st?.pgrp ?? r,
                spawnedAt: Date.now(),
              });
            } catch (err) {
              this.opts.logger.warn(
                { location: spec.location, err: (err as Error).message, errno: (err as NodeJS.ErrnoException).code },
                "could not record a standby run worker under the agent's data directory (free space there); it is stopped",
              );
              this.retire(sb, 'its record could not be written');
              return;
            }
          }
        }
        if (sb.state === 'booting') this.onReady(sb, m, spec);
      });
    });
    child.once('exit', (code, signal) => {
      if (sb.taken) return; // a run worker now (or about to be): the launcher watches it
      const wasIdle = sb.state === 'booting' || sb.state === 'ready';
      sb.state = 'gone';
      this.standbys.delete(sb.id);
      rmSync(sb.dir, { recursive: true, force: true });
      this.release(sb.key);
      if (wasIdle && !this.stopped) {
        this.opts.logger.warn({ location: sb.location, pid, code, signal }, 'standby run worker exited while idle');
      }
    });
    child.on('error', (e) =>
      this.opts.logger.warn({ location: sb.location, err: e.message }, 'standby run worker error'),
    );
  }

  /** Ready, or failed to import its location (then retired). */
  private onReady(sb: Standby, m: Extract<StandbyMessage, { type: 'ready' }>, spec: StandbySpec): void {
    if (m.loadError === undefined) {
      sb.state = 'ready';
      if (sb.spawnedAt !== undefined) this.bootMs.set(sb.key, this.now() - sb.spawnedAt);
      this.failedKeys.delete(sb.key);
      this.offer(sb);
      return;
    }
    // A location that does not import is reported by the run that tries it (cold, so it is
    // retried fresh each time); a standby would only freeze the error.
    sb.state = 'failed';
    this.failedKeys.set(sb.key, Date.now());
    this.opts.logger.warn(
      { location: spec.location, version: spec.version, err: m.loadError },
      'standby run worker could not import its location; runs of it start cold',
    );
    this.retire(sb, 'its location failed to import');
  }

  private retire(sb: Standby, why: string): void {
    this.opts.logger.debug({ location: sb.location, pid: sb.pid, why }, 'retiring standby run worker');
    this.standbys.delete(sb.id);
    sb.state = 'gone';
    this.release(sb.key);
    if (sb.child.connected) sb.child.disconnect();
    else if (sb.child.exitCode === null && sb.child.signalCode === null) {
      try {
        process.kill(-sb.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}
