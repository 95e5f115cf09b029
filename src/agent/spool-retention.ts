// Deletes the run directories (spool, pid records, config) of finished runs, so the agent's disk
// does not grow with every run for ever. A run's directory goes only when all of these hold:
// - no process of the run is alive here (its recorded worker, or any writer of its spool), and
//   this process is not launching or supervising it;
// - nothing in it was written for `retentionMs` (the retention period, --spool-retention-hours),
//   judged again after the control plane answers (a relaunch may have written meanwhile);
// - the control plane says the run has ended and stores all of it: its events up to the spool's
//   last seq, and both log files to their full size, none of their output dropped by its per-run
//   log cap (runCursor with logsTruncated; a control plane too old to say keeps the directory).
// Every check is read afresh from disk and the control plane at each sweep, so a restarted agent
// sweeps as it would have (nothing to lose on a crash); a directory it cannot judge is kept.
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errorLogFields, isOutpostError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { SPOOL_FILES } from '../shared/run-events.js';
import { isTerminalRunStatus } from '../shared/run-status.js';
import type { ControlPlaneClient } from './control-plane-client.js';
import { isSameLiveProcess } from './launchers/proc.js';
import { readProcessRecord, runsRoot, spoolOf } from './launchers/run-records.js';
import { lineHead, readRange } from './spool-lines.js';
import { eventsFileId, spoolsWrittenNow } from './spool-writers.js';

export interface SpoolRetentionOptions {
  dataDir: string;
  /** How long a finished run's directory is kept after its last write. */
  retentionMs: number;
  controlPlane: Pick<ControlPlaneClient, 'retentionCursor'>;
  agentId: () => string;
  /** Runs this process is launching or supervising right now: never deleted. */
  busy: (runId: string) => boolean;
  now: () => number;
  logger: Logger;
}

export interface SweepResult {
  deleted: string[];
  /** Run id → why its directory stays. */
  kept: Map<string, string>;
}

/** Control plane questions one sweep asks at most; the rest wait for a later sweep. */
export const MAX_CURSOR_QUESTIONS_PER_SWEEP = 200;
/** How long a directory whose answer cannot change soon is not asked about again (doubling up to a week). */
const FIRST_BACKOFF_MS = 60 * 60 * 1000;
const MAX_BACKOFF_MS = 7 * 24 * 60 * 60 * 1000;
/** How old a /proc walk of open spool files may be and still serve a recheck. */
const WALK_REUSE_MS = 1_000;

/**
 * What sweeps remember between them (nothing a restart needs): when each run was last asked
 * about, and when a run whose answer will not change soon (another agent's run, one the control
 * plane does not know, logs cut by its cap) may be asked again.
 */
export interface SweepMemory {
  askedAt: Map<string, number>;
  backoff: Map<string, { until: number; waitMs: number }>;
}

export const newSweepMemory = (): SweepMemory => ({ askedAt: new Map(), backoff: new Map() });

/** One pass over `<dataDir>/runs`: deletes what may go (see the header), says why the rest stays. */
export async function sweepRunDirs(
  opts: SpoolRetentionOptions & { stopped?: () => boolean },
  memory: SweepMemory = newSweepMemory(),
): Promise<SweepResult> {
  const result: SweepResult = { deleted: [], kept: new Map() };
  let runIds: string[];
  try {
    runIds = readdirSync(runsRoot(opts.dataDir));
  } catch {
    return result; // no run yet
  }
  // Cheap checks on disk first; the /proc walk once for the sweep, only when a directory is old
  // enough to need it; then the control plane, least recently asked first, at most a bounded number.
  const now = opts.now();
  // The /proc walk, taken again for a recheck only when over a second old: a sweep may delete
  // up to MAX_CURSOR_QUESTIONS_PER_SWEEP directories, each rechecked on the agent's main thread.
  let walk: { at: number; files: Set<string> } | undefined;
  const written = (): Set<string> => {
    if (!walk || opts.now() - walk.at > WALK_REUSE_MS) walk = { at: opts.now(), files: spoolsWrittenNow() };
    return walk.files;
  };
  const candidates: string[] = [];
  for (const runId of runIds) {
    const why = localKeepReason(opts, runId, now, written);
    if (why) result.kept.set(runId, why);
    else candidates.push(runId);
  }
  const present = new Set(runIds);
  for (const map of [memory.askedAt, memory.backoff]) for (const id of map.keys()) if (!present.has(id)) map.delete(id);
  candidates.sort((a, b) => (memory.askedAt.get(a) ?? 0) - (memory.askedAt.get(b) ?? 0));
  let asked = 0;
  for (const runId of candidates) {
    if (opts.stopped?.()) {
      result.kept.set(runId, 'agent stopping');
      continue;
    }
    const backoff = memory.backoff.get(runId);
    if (backoff && backoff.until > now) {
      result.kept.set(runId, 'asked recently; its answer will not change soon');
      continue;
    }
    if (asked >= MAX_CURSOR_QUESTIONS_PER_SWEEP) {
      result.kept.set(runId, `not asked this sweep (at most ${MAX_CURSOR_QUESTIONS_PER_SWEEP} questions per sweep)`);
      continue;
    }
    asked++;
    memory.askedAt.set(runId, now);
    const judged = await storedKeepReason(opts, runId);
    if (judged.settled) {
      const waitMs = Math.min(MAX_BACKOFF_MS, backoff ? backoff.waitMs * 2 : FIRST_BACKOFF_MS);
      memory.backoff.set(runId, { until: now + waitMs, waitMs });
    } else {
      memory.backoff.delete(runId);
    }
    if (judged.why) {
      result.kept.set(runId, judged.why);
      continue;
    }
    // The answer took time: a launch (a restarted agent relaunching this run) may have written
    // here meanwhile, and the run it wrote for may be the one the control plane says has ended.
    const since = localKeepReason(opts, runId, opts.now(), written);
    if (since) {
      result.kept.set(runId, since);
      continue;
    }
    try {
      // Not following links: user code may have planted a symlink in its spool.
      rmSync(join(runsRoot(opts.dataDir), runId), { recursive: true, force: true });
      result.deleted.push(runId);
    } catch (err) {
      result.kept.set(runId, `cannot delete: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      opts.logger.warn({ runId, err: (err as Error).message }, 'run directory past its retention not deleted');
    }
  }
  if (result.deleted.length) {
    opts.logger.info({ deleted: result.deleted.length, kept: result.kept.size }, 'deleted finished run spools');
  }
  return result;
}

/** Why the run's directory stays, judged on this host alone; undefined when the control plane decides. */
function localKeepReason(
  opts: SpoolRetentionOptions,
  runId: string,
  now: number,
  written: () => Set<string>,
): string | undefined {
  const dir = join(runsRoot(opts.dataDir), runId);
  const spool = spoolOf(dir);
  if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return 'not a run directory';
  if (opts.busy(runId)) return 'live here';
  if (now - lastWrite(dir, spool) < opts.retentionMs) return 'within its retention period';
  const rec = readProcessRecord(dir);
  if (rec && isSameLiveProcess(rec.pid, rec.startTime)) return 'its worker is alive';
  const events = eventsFileId(spool);
  if (events && written().has(events)) return 'a process still writes its spool';
  return undefined;
}

/**
 * Why the run's directory stays, by what the control plane stores, or no reason when it may go;
 * `settled` when that answer will not change soon (asked again only after a backoff).
 */
async function storedKeepReason(
  opts: SpoolRetentionOptions,
  runId: string,
): Promise<{ why?: string; settled: boolean }> {
  const spool = spoolOf(join(runsRoot(opts.dataDir), runId));
  let cursor;
  try {
    cursor = await opts.controlPlane.retentionCursor(opts.agentId(), runId);
  } catch (err) {
    // RUN_NOT_OWNED (another agent holds its launch) or UNKNOWN_RUN: not soon ours to judge; a
    // control plane that is down: ask at the next sweep.
    const { code, err: message } = errorLogFields(err);
    const settled = isOutpostError(err, 'RUN_NOT_OWNED') || isOutpostError(err, 'UNKNOWN_RUN');
    return { why: `control plane did not answer: ${code ?? message}`, settled };
  }
  if (!isTerminalRunStatus(cursor.status)) return { why: `run is ${cursor.status}`, settled: false };
  const lastSeq = lastSpoolSeq(join(spool, SPOOL_FILES.events));
  if (lastSeq > cursor.lastSeq) return { why: `events after seq ${cursor.lastSeq} not stored yet`, settled: false };
  if (fileSize(join(spool, SPOOL_FILES.stdout)) > cursor.stdoutBytes) {
    return { why: 'stdout not fully stored', settled: false };
  }
  if (fileSize(join(spool, SPOOL_FILES.stderr)) > cursor.stderrBytes) {
    return { why: 'stderr not fully stored', settled: false };
  }
  // Past the cap the control plane keeps a prefix and a marker: the spool is the only full copy.
  if (cursor.logsTruncated) {
    return { why: 'logs truncated by the control plane: the spool is their only full copy', settled: true };
  }
  if (cursor.logsTruncated === null) {
    return { why: 'the control plane does not say whether it truncated the logs (older)', settled: false };
  }
  return { settled: false };
}

/**
 * Newest mtime of the run directory, its spool and their entries (ms). The directories' own count:
 * a launch's mkdir is a write, and an empty directory made a moment ago is not an old one.
 */
function lastWrite(dir: string, spool: string): number {
  let newest = 0;
  for (const d of [dir, spool]) {
    const own = lstatSync(d, { throwIfNoEntry: false });
    if (!own) continue;
    if (own.mtimeMs > newest) newest = own.mtimeMs;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const name of names) {
      const st = lstatSync(join(d, name), { throwIfNoEntry: false });
      if (st && st.mtimeMs > newest) newest = st.mtimeMs;
    }
  }
  return newest;
}

const fileSize = (file: string): number => lstatSync(file, { throwIfNoEntry: false })?.size ?? 0;

/** Tail read to find the spool's last event (a longer last event keeps its spool). */
const TAIL_BYTES = 1024 * 1024;

/**
 * The seq of the spool's last event (0 for an empty spool). A cut last line (a worker killed
 * mid-write) is never shipped, so the line before it counts; a tail with no readable event at
 * all is never judged stored.
 */
function lastSpoolSeq(file: string): number {
  const size = fileSize(file);
  const tail = readRange(file, Math.max(0, size - TAIL_BYTES), TAIL_BYTES);
  if (!tail?.length) return 0;
  const lines = tail.toString('utf8').split('\n');
  if (lines.every((l) => !l.trim())) return 0;
  for (let i = lines.length - 1; i >= (size > TAIL_BYTES ? 1 : 0); i--) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const buf = Buffer.from(line);
    const head = lineHead(buf, 0, buf.length);
    if (head) return head.seq;
    try {
      const seq = (JSON.parse(line) as { seq?: unknown }).seq;
      if (typeof seq === 'number') return seq;
    } catch {
      // a cut line: the one before it
    }
  }
  return Number.MAX_SAFE_INTEGER;
}

/**
 * Sweeps at start and then `everyMs` after each sweep ends (never two at once, however long one
 * takes), until stopped; stop() waits for the sweep under way, which stops asking at once.
 */
export function startSpoolRetention(opts: SpoolRetentionOptions & { everyMs: number }): { stop(): Promise<void> } {
  const memory = newSweepMemory();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void>;
  const sweep = (): void => {
    sweeping = sweepRunDirs({ ...opts, stopped: () => stopped }, memory)
      .then(
        () => undefined,
        (err: unknown) => opts.logger.warn({ err: (err as Error).message }, 'spool retention sweep failed'),
      )
      .then(() => {
        if (stopped) return;
        timer = setTimeout(sweep, opts.everyMs);
        timer.unref();
      });
  };
  sweep();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await sweeping;
    },
  };
}
