// Deletes the run directories (spool, pid records, config) of finished runs, so the agent's disk
// does not grow with every run for ever. A run's directory goes only when all of these hold:
// - no process of the run is alive here (its recorded worker, or any writer of its spool), and
//   this process is not launching or supervising it;
// - nothing in it was written for `retentionMs` (the retention period, --spool-retention-hours);
// - the control plane says the run has ended and stores all of it: its events up to the spool's
//   last seq, and both log files to their full size, none of their output dropped by its per-run
//   log cap (runCursor with logsTruncated; a control plane too old to say keeps the directory).
// Every check is read afresh from disk and the control plane at each sweep, so a restarted agent
// sweeps as it would have (nothing to lose on a crash); a directory it cannot judge is kept.
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errorLogFields } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { SPOOL_FILES } from '../shared/run-events.js';
import { isTerminalRunStatus } from '../shared/run-status.js';
import type { ControlPlaneClient } from './control-plane-client.js';
import { isSameLiveProcess } from './launchers/proc.js';
import { readProcessRecord, runsRoot, spoolOf } from './launchers/run-records.js';
import { lineHead, readRange } from './spool-lines.js';
import { spoolWriters } from './spool-writers.js';

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

/** One pass over `<dataDir>/runs`: deletes what may go (see the header), says why the rest stays. */
export async function sweepRunDirs(opts: SpoolRetentionOptions): Promise<SweepResult> {
  const result: SweepResult = { deleted: [], kept: new Map() };
  let runIds: string[];
  try {
    runIds = readdirSync(runsRoot(opts.dataDir));
  } catch {
    return result; // no run yet
  }
  for (const runId of runIds) {
    const why = await keepReason(opts, runId);
    if (why) {
      result.kept.set(runId, why);
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

/** Why the run's directory stays, or undefined when it may go. */
async function keepReason(opts: SpoolRetentionOptions, runId: string): Promise<string | undefined> {
  const dir = join(runsRoot(opts.dataDir), runId);
  const spool = spoolOf(dir);
  if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return 'not a run directory';
  if (opts.busy(runId)) return 'live here';
  const rec = readProcessRecord(dir);
  if (rec && isSameLiveProcess(rec.pid, rec.startTime)) return 'its worker is alive';
  if (spoolWriters(spool).length) return 'a process still writes its spool';
  const age = opts.now() - lastWrite(dir, spool);
  if (age < opts.retentionMs) return 'within its retention period';
  let cursor;
  try {
    cursor = await opts.controlPlane.retentionCursor(opts.agentId(), runId);
  } catch (err) {
    // RUN_NOT_OWNED (another agent holds its launch), a control plane that is down: ask later.
    const { code, err: message } = errorLogFields(err);
    return `control plane did not answer: ${code ?? message}`;
  }
  if (!isTerminalRunStatus(cursor.status)) return `run is ${cursor.status}`;
  const lastSeq = lastSpoolSeq(join(spool, SPOOL_FILES.events));
  if (lastSeq > cursor.lastSeq) return `events after seq ${cursor.lastSeq} not stored yet`;
  if (fileSize(join(spool, SPOOL_FILES.stdout)) > cursor.stdoutBytes) return 'stdout not fully stored';
  if (fileSize(join(spool, SPOOL_FILES.stderr)) > cursor.stderrBytes) return 'stderr not fully stored';
  // Past the cap the control plane keeps a prefix and a marker: the spool is the only full copy.
  if (cursor.logsTruncated) return 'logs truncated by the control plane: the spool is their only full copy';
  if (cursor.logsTruncated === null) return 'the control plane does not say whether it truncated the logs (older)';
  return undefined;
}

/** Newest mtime of the run directory's and its spool's entries (ms). */
function lastWrite(dir: string, spool: string): number {
  let newest = 0;
  for (const d of [dir, spool]) {
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

/** Sweeps at start and then every `everyMs` until stopped. */
export function startSpoolRetention(opts: SpoolRetentionOptions & { everyMs: number }): { stop(): Promise<void> } {
  let sweeping: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const sweep = (): void => {
    sweeping = sweepRunDirs(opts).catch((err: unknown) =>
      opts.logger.warn({ err: (err as Error).message }, 'spool retention sweep failed'),
    );
  };
  sweep();
  const timer = setInterval(() => {
    if (!stopped) void sweeping.then(sweep);
  }, opts.everyMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await sweeping;
    },
  };
}
