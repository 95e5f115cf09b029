// The on-disk records of the processes an agent starts for runs. This module alone knows their
// names and format: the launcher writes them, and whoever must find those processes again (the
// launcher after a crash, the standby pool, `outpost dev` stopping everything) reads them here.
//
//   <agent data dir>/runs/<runId>/intent.json   written just before a spawn or a standby handoff
//                                 process.json  the run worker: pid, start time, process group
//                                 spawns.log    one line per process actually spawned (append-only)
//                                 config.json   the run config handed to the worker
//                                 spool/        events.jsonl, stdout.log, stderr.log, and after a
//                                               standby handoff standby-claim (standby-protocol.ts)
//   <agent data dir>/standby/<id>/process.json  an idle warm standby (removed, with its directory,
//                                               when it takes a run)
//                                 spool/        its log files, moved into the run that takes it
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { OutpostError } from '../../shared/errors.js';
import { SPOOL_FILES } from '../../shared/run-events.js';
import { regularFileSize } from '../../shared/user-writable-files.js';
import { listPids, processGroupMembers, readProcStat, workerBelow, type ProcStat } from './proc.js';

/** A process we started (a run worker or a standby): enough to find and signal it, never a stranger. */
export interface ProcessRecord {
  pid: number;
  /** Clock ticks since boot (/proc/<pid>/stat field 22): defeats pid reuse. */
  startTime: number;
  /** The process group: the worker is its leader. */
  pgid: number;
  spawnedAt: number;
  /** True when found via /proc after a crash instead of recorded at spawn. */
  recovered?: boolean;
  /** True when the run went to a warm standby instead of a fresh spawn. */
  warm?: boolean;
  /** SpawnPlan.sigtermTo: argv elements of the one process (the recorded root or below) SIGTERM goes to. */
  sigtermTo?: string[];
}

/** Written before a spawn or handoff, so a crash in between can be told from "never launched". */
export interface IntentRecord {
  runId: string;
  at: number;
  /** Set when the run was being handed to a standby. */
  standby?: { pid: number; startTime: number };
  /** argv elements identifying the worker about to be spawned (default: Outpost's own). */
  match?: string[];
  /** Carried into the process record when recovery finds the worker (SpawnPlan.sigtermTo). */
  sigtermTo?: string[];
}

const RUNS = 'runs';
const STANDBY = 'standby';
const FILES = {
  intent: 'intent.json',
  process: 'process.json',
  spawns: 'spawns.log',
  config: 'config.json',
  spool: 'spool',
} as const;

export function runsRoot(dataDir: string): string {
  return join(dataDir, RUNS);
}

export function runDir(dataDir: string, runId: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(runId)) throw new OutpostError('INVALID_ARGUMENT', { detail: `run id ${runId}` });
  return join(runsRoot(dataDir), runId);
}

/** The spool of a run dir, or of a standby dir (same layout). */
export const spoolOf = (dir: string): string => join(dir, FILES.spool);
export const configFileOf = (dir: string): string => join(dir, FILES.config);
export const hasIntent = (dir: string): boolean => existsSync(join(dir, FILES.intent));

/**
 * True once the worker has written an event: it started the run (RUN_START comes first). Read
 * without following a link: user code may swap the file for a symlink or a FIFO. Anything but a
 * regular file there was put by the run's own code, so the run has started: never a second worker.
 */
export function spoolHasEvents(spool: string): boolean {
  const size = regularFileSize(join(spool, SPOOL_FILES.events));
  return size === 'other' || (size !== undefined && size > 0);
}

export function readIntent(dir: string): IntentRecord | undefined {
  return readJson<IntentRecord>(join(dir, FILES.intent));
}

export function writeIntent(dir: string, intent: IntentRecord): void {
  writeAtomic(join(dir, FILES.intent), JSON.stringify(intent));
}

export function readProcessRecord(dir: string): ProcessRecord | undefined {
  return readJson<ProcessRecord>(join(dir, FILES.process));
}

/** Records the run's worker: logs the spawn (once per process) and writes process.json. */
export function recordRunProcess(dir: string, rec: ProcessRecord): void {
  mkdirSync(dir, { recursive: true });
  // A kill -9 between the log line and process.json leaves the spawn logged but unrecorded:
  // the recovery that records it then must not log that one spawn twice.
  if (!alreadyLogged(dir, rec)) appendFileSync(join(dir, FILES.spawns), `${JSON.stringify(rec)}\n`);
  writeAtomic(join(dir, FILES.process), JSON.stringify(rec));
}

/**
 * Whether the spawn log already holds this process: its last line names the same one, or, for a
 * recovery, it was logged after the current intent (the intent's spawn, whatever pid it shows).
 */
function alreadyLogged(dir: string, rec: ProcessRecord): boolean {
  const file = join(dir, FILES.spawns);
  if (!existsSync(file)) return false;
  const last = readFileSync(file, 'utf8').split('\n').filter(Boolean).at(-1);
  if (!last) return false;
  let prev: Partial<ProcessRecord>;
  try {
    prev = JSON.parse(last) as Partial<ProcessRecord>;
  } catch {
    return false; // a torn line (killed mid-append): log this one
  }
  if (prev.pid === rec.pid && prev.startTime === rec.startTime) return true;
  const intent = rec.recovered ? readIntent(dir) : undefined;
  return intent !== undefined && (prev.spawnedAt ?? 0) >= intent.at;
}

/** Lines of the append-only spawn log: one per process actually spawned. */
export function spawnCount(dir: string): number {
  const file = join(dir, FILES.spawns);
  if (!existsSync(file)) return 0;
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
}

export function standbyRoot(dataDir: string): string {
  return join(dataDir, STANDBY);
}

export function standbyDir(dataDir: string, id: string): string {
  return join(standbyRoot(dataDir), id);
}

/** Records an idle standby (its dir is removed when it exits or takes a run). */
export function recordStandbyProcess(dir: string, rec: ProcessRecord): void {
  writeAtomic(join(dir, FILES.process), JSON.stringify(rec));
}

/** A standby that takes a run stops being one: its record goes before the run is sent to it. */
export function forgetStandbyProcess(dir: string): void {
  // One unlink: rmSync would lstat first and go through its recursive-removal machinery.
  try {
    unlinkSync(join(dir, FILES.process));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Removes a standby's directory once it took a run (its spool moved into the run, its record
 * gone): one rmdir when it is empty, as it is then; a whole removal if anything is left.
 */
export function removeEmptiedStandbyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') rmSync(dir, { recursive: true, force: true });
  }
}

export interface RecordedProcess {
  kind: 'run' | 'standby';
  /** The run id, or the standby id. */
  id: string;
  record: ProcessRecord;
}

/** Every process recorded under an agent data dir, run workers and idle standbys, alive or not. */
export function listRecordedProcesses(dataDir: string): RecordedProcess[] {
  const out: RecordedProcess[] = [];
  for (const [kind, root] of [
    ['run', runsRoot(dataDir)],
    ['standby', standbyRoot(dataDir)],
  ] as const) {
    for (const id of listDir(root)) {
      const record = readProcessRecord(join(root, id));
      if (record && record.pid > 0) out.push({ kind, id, record });
    }
  }
  return out;
}

/** What is known of the processes on the host: read per question, or once for many records. */
interface ProcView {
  stat(pid: number): ProcStat | undefined;
  /** Live (non-zombie) members of a process group. */
  members(pgid: number): number;
}

const liveView: ProcView = { stat: readProcStat, members: (pgid) => processGroupMembers(pgid).length };

/** One pass over /proc, for checking many records at once. */
function snapshotView(): ProcView {
  const stats = new Map<number, ProcStat>();
  const groups = new Map<number, number>();
  for (const pid of listPids()) {
    const st = readProcStat(pid);
    if (!st) continue;
    stats.set(pid, st);
    if (st.state !== 'Z' && st.state !== 'X') groups.set(st.pgrp, (groups.get(st.pgrp) ?? 0) + 1);
  }
  return { stat: (pid) => stats.get(pid), members: (pgid) => groups.get(pgid) ?? 0 };
}

/**
 * True while the recorded process group is provably ours and not empty: the leader is the
 * process we recorded, or the leader is gone but members remain (a pgid is not reused while its
 * group lives). A leader pid now naming another process means ours is long gone.
 */
export function recordIsLive(rec: ProcessRecord, view: ProcView = liveView): boolean {
  if (rec.pgid <= 0) return false;
  const leader = view.stat(rec.pid);
  if (leader !== undefined && leader.startTime !== rec.startTime && leader.state !== 'Z') return false;
  return view.members(rec.pgid) > 0;
}

/**
 * Signals the recorded process group while `recordIsLive`; false when nothing was there. A
 * SIGTERM of a record with `sigtermTo` goes to that one process below the recorded root while it
 * is there (a Dagster run worker, which ends its step processes itself), else, as every other
 * signal, to the group.
 */
export function signalRecordedGroup(rec: ProcessRecord, signal: NodeJS.Signals, view: ProcView = liveView): boolean {
  if (!recordIsLive(rec, view)) return false;
  const only = signal === 'SIGTERM' && rec.sigtermTo ? workerBelow(rec.pid, rec.sigtermTo) : undefined;
  // The worker may have exited since it was looked up: what is left of the group gets it.
  return (only !== undefined && signalPid(only, signal)) || signalPid(-rec.pgid, signal);
}

function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops every recorded run worker and/or standby under `dataDir`: SIGTERM (a run worker writes
 * RUN_CANCELED), then SIGKILL whatever is still there after `graceMs`. Returns what it signalled.
 * Reads /proc once per pass, however many runs the data dir has seen.
 */
export async function stopRecordedProcesses(
  dataDir: string,
  graceMs: number,
  kinds: ReadonlyArray<RecordedProcess['kind']> = ['run', 'standby'],
): Promise<RecordedProcess[]> {
  const recorded = listRecordedProcesses(dataDir).filter((p) => kinds.includes(p.kind));
  if (!recorded.length) return [];
  const first = snapshotView();
  const live = recorded.filter((p) => signalRecordedGroup(p.record, 'SIGTERM', first));
  const deadline = Date.now() + graceMs;
  while (live.length && Date.now() < deadline) {
    const view = snapshotView();
    if (!live.some((p) => recordIsLive(p.record, view))) return live;
    await new Promise((r) => setTimeout(r, 100));
  }
  const last = snapshotView();
  for (const p of live) signalRecordedGroup(p.record, 'SIGKILL', last);
  return live;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  // The directory is there on every launch path: made only when missing, not asked each time
  // (four such writes per run, on the agent's main thread in a burst).
  try {
    writeFileSync(tmp, text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, text);
  }
  renameSync(tmp, file);
}
