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
import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../shared/logger.js';
import { OutpostError } from '../../shared/errors.js';
import { SPOOL_FILES } from '../../shared/run-events.js';
import { childEnv } from '../config.js';
import type { ExitStatus, LaunchHandle, Launcher, RunLaunchSpec } from './launcher.js';
import { findProcessByArgs, isSameLiveProcess, processGroupMembers, readProcStat } from './proc.js';

interface ProcessRecord {
  pid: number;
  /** Clock ticks since boot (/proc/<pid>/stat field 22): defeats pid reuse. */
  startTime: number;
  /** The process group: the worker is its leader. */
  pgid: number;
  spawnedAt: number;
  /** True when found via /proc after a crash instead of recorded at spawn. */
  recovered?: boolean;
}

export interface ProcessLauncherOptions {
  /** Agent data dir; runs live in <dataDir>/runs/<runId>/. */
  dataDir: string;
  logger: Logger;
  /** Command that starts the CLI; default: this Node with tsx on src/cli/main.ts. */
  cliCommand?: string[];
  /** Base environment for workers; default process.env (tokens are always stripped). */
  env?: NodeJS.ProcessEnv;
  /** Niceness added to each run worker (0 = the agent's priority); default 0. */
  nice?: number;
}

const MAIN_TS = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

/** `node --import <tsx> src/cli/main.ts`: works from any cwd, since tsx is resolved from here. */
export function defaultCliCommand(): string[] {
  return [process.execPath, '--import', import.meta.resolve('tsx'), MAIN_TS];
}

export class ProcessLauncher implements Launcher {
  readonly kind = 'process';
  private readonly children = new Map<string, { child: ChildProcess; exit?: ExitStatus }>();
  private readonly cli: string[];

  constructor(private readonly opts: ProcessLauncherOptions) {
    this.cli = opts.cliCommand ?? defaultCliCommand();
  }

  runDir(runId: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(runId)) throw new OutpostError('INVALID_ARGUMENT', { detail: `run id ${runId}` });
    return join(this.opts.dataDir, 'runs', runId);
  }

  spoolDir(runId: string): string {
    return join(this.runDir(runId), 'spool');
  }

  /** Lines of the append-only spawn log: one per process actually spawned. */
  spawnCount(runId: string): number {
    const file = join(this.runDir(runId), 'spawns.log');
    if (!existsSync(file)) return 0;
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  }

  async launch(spec: RunLaunchSpec): Promise<LaunchHandle> {
    const existing = await this.adopt(spec.runId);
    if (existing) return existing;
    const dir = this.runDir(spec.runId);
    const spool = this.spoolDir(spec.runId);
    mkdirSync(spool, { recursive: true });

    if (existsSync(join(dir, 'intent.json'))) {
      const recovered = this.recover(spec.runId);
      if (recovered) return recovered;
    }

    const configFile = join(dir, 'config.json');
    writeAtomic(configFile, JSON.stringify(spec.runConfig));
    writeAtomic(join(dir, 'intent.json'), JSON.stringify({ runId: spec.runId, at: Date.now() }));

    const args = [
      ...this.cli.slice(1),
      'api',
      'execute-run',
      '--run-id',
      spec.runId,
      '--module',
      resolve(spec.cwd ?? process.cwd(), spec.module),
      '--job',
      spec.job,
      '--config-file',
      configFile,
      '--spool-dir',
      spool,
    ];
    // The log files are opened by us in append mode so a worker's output survives our restarts.
    const out = openSync(join(spool, SPOOL_FILES.stdout), 'a');
    const err = openSync(join(spool, SPOOL_FILES.stderr), 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.cli[0]!, args, {
        cwd: spec.cwd ?? process.cwd(),
        detached: true,
        stdio: ['ignore', out, err],
        env: childEnv(this.opts.env ?? process.env, { ...spec.env, OUTPOST_RUN_ID: spec.runId }),
      });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    const pid = child.pid;
    if (pid === undefined) {
      throw new OutpostError('RUN_WORKER_SPAWN_FAILED', { detail: `run ${spec.runId}: spawn returned no pid` });
    }
    if (this.opts.nice) {
      try {
        setPriority(pid, Math.min(19, getPriority(process.pid) + this.opts.nice));
      } catch (err) {
        this.opts.logger.warn(
          { runId: spec.runId, pid, err: (err as Error).message },
          'could not lower the run worker priority',
        );
      }
    }
    const stat = readProcStat(pid);
    const record: ProcessRecord = { pid, startTime: stat?.startTime ?? -1, pgid: pid, spawnedAt: Date.now() };
    appendFileSync(join(dir, 'spawns.log'), `${JSON.stringify(record)}\n`);
    writeAtomic(join(dir, 'process.json'), JSON.stringify(record));
    this.watch(spec.runId, child);
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
    if (!rec) return Promise.resolve(false);
    // Signal the group only while it is provably ours: the leader is the process we recorded,
    // or the leader is gone but members remain (a pgid is not reused while its group lives).
    const leader = readProcStat(rec.pid);
    const leaderIsOurs = leader !== undefined && leader.startTime === rec.startTime;
    if (!leaderIsOurs && leader !== undefined && leader.state !== 'Z') return Promise.resolve(false);
    if (processGroupMembers(rec.pgid).length === 0) return Promise.resolve(false);
    try {
      process.kill(-rec.pgid, signal);
      return Promise.resolve(true);
    } catch {
      return Promise.resolve(false);
    }
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
    try {
      return JSON.parse(readFileSync(join(this.runDir(runId), 'process.json'), 'utf8')) as ProcessRecord;
    } catch {
      return undefined;
    }
  }

  /** The crash window: intent written, no record. Finds the worker instead of spawning a second. */
  private recover(runId: string): LaunchHandle | undefined {
    const dir = this.runDir(runId);
    const pid = findProcessByArgs(['execute-run', '--run-id', runId]);
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
      appendFileSync(join(dir, 'spawns.log'), `${JSON.stringify(rec)}\n`);
      writeAtomic(join(dir, 'process.json'), JSON.stringify(rec));
      this.opts.logger.warn({ runId, pid }, 'adopted a run worker found after a crash between spawn and record');
      return { runId, launcher: this.kind, ref: `pid ${pid}`, adopted: true };
    }
    const events = join(this.spoolDir(runId), SPOOL_FILES.events);
    if (existsSync(events) && statSync(events).size > 0) {
      // It ran and has already exited: supervise will ship what it wrote.
      const rec: ProcessRecord = { pid: -1, startTime: -1, pgid: -1, spawnedAt: Date.now(), recovered: true };
      appendFileSync(join(dir, 'spawns.log'), `${JSON.stringify(rec)}\n`);
      writeAtomic(join(dir, 'process.json'), JSON.stringify(rec));
      this.opts.logger.warn({ runId }, 'run worker already exited before its launch was recorded; adopting its spool');
      return { runId, launcher: this.kind, ref: 'exited before record', adopted: true };
    }
    return undefined;
  }

  private watch(runId: string, child: ChildProcess): void {
    const entry: { child: ChildProcess; exit?: ExitStatus } = { child };
    this.children.set(runId, entry);
    child.once('exit', (code, signal) => {
      entry.exit = { code, signal, known: true };
      this.opts.logger.info({ runId, code, signal }, 'run worker exited');
    });
    child.once('error', (err) => {
      entry.exit = { code: null, signal: null, known: true };
      this.opts.logger.error({ runId, err }, 'run worker process error');
    });
  }
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
