// The on-disk records of the processes an agent starts for runs. This module alone knows their
// names and format: the launcher writes them, and whoever must find those processes again (the
// launcher after a crash, the standby pool, `outpost dev` stopping everything) reads them here.
//
//   <agent data dir>/runs/<runId>/intent.json   written just before a spawn or a standby handoff
//                                 process.json  the run worker: pid, start time, process group
//                                 spawns.log    one line per process actually spawned (append-only)
//                                 config.json   the run config handed to the worker
//                                 spool/        events.jsonl, stdout.log, stderr.log
//   <agent data dir>/standby/<id>/process.json  an idle warm standby (removed when it takes a run)
//                                 spool/        its log files, moved into the run that takes it
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OutpostError } from '../../shared/errors.js';
import { isSameLiveProcess, processGroupMembers, readProcStat } from './proc.js';

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
}

/** Written before a spawn or handoff, so a crash in between can be told from "never launched". */
export interface IntentRecord {
  runId: string;
  at: number;
  /** Set when the run was being handed to a standby. */
  standby?: { pid: number; startTime: number };
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
  appendFileSync(join(dir, FILES.spawns), `${JSON.stringify(rec)}\n`);
  writeAtomic(join(dir, FILES.process), JSON.stringify(rec));
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

/**
 * Signals the recorded process group only while it is provably ours: the leader is the process
 * we recorded, or the leader is gone but members remain (a pgid is not reused while its group
 * lives). False when nothing of it was there to signal.
 */
export function signalRecordedGroup(rec: ProcessRecord, signal: NodeJS.Signals): boolean {
  if (rec.pgid <= 0) return false;
  const leader = readProcStat(rec.pid);
  const leaderIsOurs = leader !== undefined && leader.startTime === rec.startTime;
  if (!leaderIsOurs && leader !== undefined && leader.state !== 'Z') return false;
  if (processGroupMembers(rec.pgid).length === 0) return false;
  try {
    process.kill(-rec.pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while the recorded leader, or any member of its group, still runs. */
export function recordIsLive(rec: ProcessRecord): boolean {
  if (isSameLiveProcess(rec.pid, rec.startTime)) return true;
  const leader = readProcStat(rec.pid);
  if (leader !== undefined && leader.startTime !== rec.startTime && leader.state !== 'Z') return false;
  return rec.pgid > 0 && processGroupMembers(rec.pgid).length > 0;
}

/**
 * Stops every recorded run worker and/or standby under `dataDir`: SIGTERM (a run worker writes
 * RUN_CANCELED), then SIGKILL whatever is still there after `graceMs`. Returns what it signalled.
 */
export async function stopRecordedProcesses(
  dataDir: string,
  graceMs: number,
  kinds: ReadonlyArray<RecordedProcess['kind']> = ['run', 'standby'],
): Promise<RecordedProcess[]> {
  const live = listRecordedProcesses(dataDir).filter(
    (p) => kinds.includes(p.kind) && signalRecordedGroup(p.record, 'SIGTERM'),
  );
  const deadline = Date.now() + graceMs;
  while (live.some((p) => recordIsLive(p.record)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const p of live) signalRecordedGroup(p.record, 'SIGKILL');
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
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
