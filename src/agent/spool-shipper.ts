// Ships one run's spool (events.jsonl, stdout.log, stderr.log) to the control plane in
// batches, starting from what the control plane already has (runCursor), so a restarted
// supervisor neither loses nor repeats anything: events are keyed by seq, log chunks by
// byte offset, and both appends are idempotent on the control plane. Event lines go as written
// (spool-lines.ts reads their seq and type off the bytes; a run of such lines is sent as the
// file's own bytes). Each kind keeps a window of requests in flight: the next batch or chunk is
// read and sent as soon as one is answered, so the control plane is not left idle while the agent
// waits for a pair to finish (the store ignores duplicate seqs and answers the highest contiguous
// seq, so a batch stored before its predecessor is harmless; the control plane holds a log chunk
// until the bytes before it are stored). Events and both log streams ship side by side.
import { join } from 'node:path';
import { SPOOL_FILES, TERMINAL_EVENT_TYPES, type ComputeLogStream } from '../shared/run-events.js';
import { errorCode, isOutpostError } from '../shared/errors.js';
import { isTerminalRunStatus, type RunStatus } from '../shared/run-status.js';
import type { Logger } from '../shared/logger.js';
import type { ControlPlaneClient, RunCursor } from './control-plane-client.js';
import { confirmLogChunk, cutLogChunk, logChunkConfirmed, logChunkFor } from './log-chunk-size.js';
import { logChunkBuffers, processLogBudget, type LogSendBudget } from './log-send-budget.js';
import { SendWindow } from './send-window.js';
import { leadingHead, lineHead, parseEvent, readRange, type LineHead } from './spool-lines.js';
import { regularFileSize } from '../shared/user-writable-files.js';

/** Events per appendRunEventLines call (the control plane's default limit is 10,000). */
export const EVENT_BATCH = 5_000;
/** appendRunEventLines calls in flight at once for one run. */
export const EVENT_BATCHES_IN_FLIGHT = 3;
/** Bytes per appendComputeLogs call at most (log-chunk-size.ts: fewer if the control plane takes less). */
export { LOG_CHUNK } from './log-chunk-size.js';
/**
 * appendComputeLogs calls in flight at once for one stream, past the first only within the
 * process's LOG_BYTES_IN_FLIGHT (log-send-budget.ts): the control plane has the next bodies
 * received while it stores one, and one waiting on a checkpoint does not leave it idle after.
 */
export const LOG_CHUNKS_IN_FLIGHT = 4;
/**
 * Event batches one pass sends at most (320,000 events): a pass ends by draining its window, which
 * leaves the control plane without a batch (once per 80,000 events at 16); passes of a busy run
 * end on PASS_MS instead, so a pass still returns (liveness, heartbeat: superviseRun's timeout is
 * 15 s) while a run is busy.
 */
const SENDS_PER_PASS = 64;
/**
 * Log chunks one pass sends at most per stream (256 MiB of 4 MiB chunks): a pass ends by waiting
 * for every chunk in flight, which leaves the control plane without a body to store, so log
 * passes end on PASS_MS rather than every 64 MiB.
 */
export const LOG_SENDS_PER_PASS = 64;
const PASS_MS = 1_000;
/** Bytes of events.jsonl read at a time (grown, up to EVENT_LINE_MAX, for a longer line). */
const EVENT_READ = 1024 * 1024;
/**
 * The longest events.jsonl line read whole (8 MiB, `eventLineMaxBytes`): a longer one is shipped
 * as an event saying it was dropped (RUN_EVENT_TOO_LARGE). Exported for tests.
 */
export const EVENT_LINE_MAX = 8 * 1024 * 1024;
/**
 * While batches are in flight and nothing complete is left to read, the file is looked at again
 * after this long (one stat when nothing was written), doubling up to RELOOK_MAX_MS.
 */
const RELOOK_FIRST_MS = 2;
const RELOOK_MAX_MS = 64;
/**
 * Log chunks are looked for again at most this long apart while chunks are in flight: a fast
 * writer fills a 4 MiB chunk in ~16 ms (250 MiB/s), and the control plane should not wait on a relook.
 */
const LOG_RELOOK_MAX_MS = 8;
/** Events that move the run's status: the store applies them in commit order. */
const STATUS_EVENT_TYPES: ReadonlySet<string> = new Set(['RUN_START', ...TERMINAL_EVENT_TYPES]);

export class SpoolShipper {
  /** Highest contiguous seq the control plane has. */
  lastSeq: number;
  /** Highest seq seen in the spool file. */
  maxSeqInFile = 0;
  sawTerminalEvent = false;
  /**
   * The run's terminal status as the control plane answered an append with it (the answer to the
   * terminal event's batch): supervision then needs no cursor to end. Undefined until then.
   */
  endStatus: RunStatus | undefined;
  private eventsPos = 0;
  /** An unfinished last line's start and the file's end as read (exactly: a file grown meanwhile differs): read again only once it grew. */
  private unfinished: { pos: number; end: number } | undefined;
  /** A line longer than EVENT_LINE_MAX whose end is not written yet: its head, how far it was looked through. */
  private longLine: LongLine | undefined;
  private readonly offsets: Record<ComputeLogStream, number>;
  private readonly truncated: Record<ComputeLogStream, boolean> = { stdout: false, stderr: false };

  constructor(
    private readonly runId: string,
    /** The agent holding the run's launch: the only one whose appends the control plane accepts. */
    private readonly agentId: string,
    private readonly spoolDir: string,
    private readonly controlPlane: Pick<ControlPlaneClient, 'appendRunEventLines' | 'appendComputeLogs'>,
    private readonly logger: Logger,
    cursor: RunCursor,
    /** Log-chunk bytes in flight, shared with the process's other shippers. */
    private readonly logBudget: LogSendBudget = processLogBudget,
    /** How long one pass sends for at most (tests lift it: a starved host must not end theirs). */
    private readonly passMs = PASS_MS,
    /** How the spool's files are read (tests count the bytes a pass reads). */
    private readonly read: typeof readRange = readRange,
  ) {
    this.lastSeq = cursor.lastSeq;
    this.offsets = { stdout: cursor.stdoutBytes, stderr: cursor.stderrBytes };
  }

  /**
   * One pass over the three files. `final` means the writer is gone, so an unterminated last
   * line of events.jsonl is complete as it will ever be. Returns true when anything was shipped.
   */
  async shipOnce(final = false): Promise<boolean> {
    const logs = Promise.allSettled([this.shipLog('stdout'), this.shipLog('stderr')]);
    const results = await Promise.allSettled([this.shipEvents(final, logs), logs.then(unwrap)]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.some((r) => r.status === 'fulfilled' && r.value);
  }

  /**
   * Whether the run's end must wait for its logs: the bytes the worker wrote before its terminal
   * event (the files' `sizes` once that line was read; the worker writes both files itself, so
   * the order holds) are not all stored, and this pass's log shipping failed or is still moving.
   * A stream that made no progress at all does not hold the end back forever.
   */
  private async logsHoldTheEnd(logs: Promise<PromiseSettledResult<boolean>[]>, sizes: LogSizes): Promise<boolean> {
    const [stdout, stderr] = await logs;
    const behind = (stream: ComputeLogStream, r: PromiseSettledResult<boolean> | undefined): boolean =>
      !this.truncated[stream] &&
      this.offsets[stream] < sizes[stream] &&
      (r?.status === 'rejected' || r?.value === true);
    return behind('stdout', stdout) || behind('stderr', stderr);
  }

  private logSizes(): LogSizes {
    return {
      stdout: fileSize(join(this.spoolDir, SPOOL_FILES.stdout)),
      stderr: fileSize(join(this.spoolDir, SPOOL_FILES.stderr)),
    };
  }

  private async shipEvents(final: boolean, logs: Promise<PromiseSettledResult<boolean>[]>): Promise<boolean> {
    const file = join(this.spoolDir, SPOOL_FILES.events);
    const window = new SendWindow(EVENT_BATCHES_IN_FLIGHT);
    /** File positions of batches that failed: the next pass starts again from the first. */
    const failedAt: number[] = [];
    let progressed = false;
    const until = Date.now() + this.passMs;
    let relookMs = RELOOK_FIRST_MS;
    for (let sent = 0; sent < SENDS_PER_PASS && Date.now() < until && !window.failed;) {
      const batch = this.nextBatch(file, final);
      if (!batch) {
        // Nothing complete to read: wait for an answer, or stop. The worker may write more before
        // an answer comes (a run that has just begun logging in a loop): look again meanwhile,
        // so the window fills with what it writes instead of one batch per answer.
        if (window.size === 0) break;
        await window.nextOr(relookMs);
        relookMs = Math.min(relookMs * 2, RELOOK_MAX_MS);
        continue;
      }
      relookMs = RELOOK_FIRST_MS;
      progressed = true;
      if (batch.heads.length === 0) continue;
      // A batch that moves the status is sent alone, after every batch ahead of it is answered;
      // one that ends the run also after the logs written before it (else a run shown SUCCESS
      // could still be missing its last lines): until then it waits for a later pass.
      if (batch.heads.some((h) => TERMINAL_EVENT_TYPES.has(h.type))) {
        const sizes = this.logSizes();
        await window.drain();
        if (!window.failed && (await this.logsHoldTheEnd(logs, sizes))) {
          this.eventsPos = batch.pos;
          break;
        }
      } else if (batch.heads.some((h) => STATUS_EVENT_TYPES.has(h.type))) await window.drain();
      else await window.room();
      if (window.failed) {
        failedAt.push(batch.pos);
        break;
      }
      sent++;
      window.add(
        this.sendBatch(batch).then(
          (res) => {
            // lastSeq only ever takes the store's answer: "highest contiguous seq acknowledged".
            this.lastSeq = Math.max(this.lastSeq, res.highestContiguousSeq);
            // A terminal status never changes again, whatever answer came first.
            if (res.status && isTerminalRunStatus(res.status)) this.endStatus = res.status;
          },
          (err: unknown) => {
            failedAt.push(batch.pos);
            throw err;
          },
        ),
      );
    }
    await window.drain();
    if (window.failed) {
      // Not a position past an unstored line: what follows the first failure is read again.
      this.eventsPos = Math.min(this.eventsPos, ...failedAt);
      throw window.error;
    }
    return progressed;
  }

  /**
   * The next batch of up to EVENT_BATCH complete lines after eventsPos (advanced past them),
   * lines already stored left out; undefined when no complete line is there.
   */
  private nextBatch(file: string, final: boolean): Batch | undefined {
    const pos = this.eventsPos;
    if (!final && this.unfinished?.pos === pos && fileSize(file) === this.unfinished.end) return undefined;
    // An over-long line still being written: looked through from where the last pass stopped,
    // not read again from its start (13 MiB a pass while it grows).
    if (this.longLine?.pos === pos) return this.overlongLine(file, this.longLine, final);
    let size = EVENT_READ;
    let chunk = this.read(file, pos, size);
    if (!chunk || chunk.length === 0) return undefined;
    // A line longer than the read: read more, up to EVENT_LINE_MAX; a longer one is replaced.
    while (chunk.indexOf(0x0a) === -1 && chunk.length === size && size < EVENT_LINE_MAX) {
      size = Math.min(size * 4, EVENT_LINE_MAX);
      chunk = this.read(file, pos, size) ?? chunk;
    }
    if (size === EVENT_LINE_MAX && chunk.length === size && chunk.indexOf(0x0a) === -1)
      return this.overlongLine(file, { pos, scanned: pos + chunk.length, head: leadingHead(chunk) }, final);
    const batch: Batch = { pos, heads: [], parts: [] };
    /** Start of the current run of lines sent as the file's own bytes. */
    let runFrom = -1;
    let consumed = 0;
    let start = 0;
    const closeRun = (at: number): void => {
      if (runFrom >= 0) batch.parts.push(chunk.subarray(runFrom, at));
      runFrom = -1;
    };
    while (start < chunk.length && batch.heads.length < EVENT_BATCH) {
      let nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        if (!final || chunk.length === size) break;
        nl = chunk.length;
      }
      const lineStart = start;
      start = nl + 1;
      consumed = Math.min(start, chunk.length);
      // The common line goes as its own bytes; anything else is parsed (and maybe skipped) now.
      const fast = lineHead(chunk, lineStart, nl);
      const strict = fast ? undefined : this.strictLine(chunk, lineStart, nl);
      const head = fast ?? strict?.head;
      if (head) {
        this.maxSeqInFile = Math.max(this.maxSeqInFile, head.seq);
        if (TERMINAL_EVENT_TYPES.has(head.type)) this.sawTerminalEvent = true;
      }
      if (!head || head.seq <= this.lastSeq || strict) {
        closeRun(lineStart);
        if (strict && head && head.seq > this.lastSeq) batch.parts.push(strict.bytes, NEWLINE);
      } else if (runFrom < 0) runFrom = lineStart;
      if (head && head.seq > this.lastSeq) batch.heads.push(head);
    }
    closeRun(consumed);
    if (consumed === 0) {
      this.unfinished = { pos, end: pos + chunk.length };
      return undefined;
    }
    this.eventsPos = pos + consumed;
    return batch;
  }

  /**
   * A line longer than EVENT_LINE_MAX (`line`): once its end is written (or the writer is gone),
   * a batch of one event in its place, at its seq and of its type when that moves the run's
   * status (else ENGINE), saying what was dropped and why; the lines after it ship as usual.
   * Undefined while its end is not written yet. One whose seq cannot be read off its head is
   * skipped, logged, as an unparseable line is.
   */
  private overlongLine(file: string, line: LongLine, final: boolean): Batch | undefined {
    const { pos } = line;
    let from = line.scanned;
    let end = -1;
    for (;;) {
      const piece = this.read(file, from, EVENT_READ);
      if (!piece || piece.length === 0) break;
      const nl = piece.indexOf(0x0a);
      if (nl >= 0) {
        end = from + nl;
        break;
      }
      from += piece.length;
    }
    if (end < 0) {
      if (!final) {
        this.longLine = { ...line, scanned: from };
        this.unfinished = { pos, end: from };
        return undefined;
      }
      end = from;
    }
    this.longLine = undefined;
    this.eventsPos = Math.min(end + 1, Math.max(end, fileSize(file)));
    const batch: Batch = { pos, heads: [], parts: [] };
    const dropped = line.head;
    const bytes = end - pos;
    if (!dropped) {
      this.logger.error({ runId: this.runId, bytes }, 'an over-long spool line with no seq skipped');
      return batch;
    }
    this.maxSeqInFile = Math.max(this.maxSeqInFile, dropped.seq);
    if (TERMINAL_EVENT_TYPES.has(dropped.type)) this.sawTerminalEvent = true;
    this.logger.warn(
      { runId: this.runId, seq: dropped.seq, type: dropped.type, bytes },
      'an over-long spool line replaced',
    );
    if (dropped.seq <= this.lastSeq) return batch;
    const event = {
      seq: dropped.seq,
      timestamp: Date.now(),
      type: STATUS_EVENT_TYPES.has(dropped.type) ? dropped.type : 'ENGINE',
      level: 'error',
      message: `a ${dropped.type} event of ${bytes} bytes was dropped: the agent ships spool lines of at most ${EVENT_LINE_MAX} bytes (eventLineMaxBytes, fixed)`,
      data: {
        code: errorCode('RUN_EVENT_TOO_LARGE'),
        droppedType: dropped.type,
        droppedBytes: bytes,
        eventLineMaxBytes: EVENT_LINE_MAX,
      },
    };
    batch.heads.push({ seq: dropped.seq, type: event.type });
    batch.parts.push(Buffer.from(JSON.stringify(event)), NEWLINE);
    return batch;
  }

  /** A line read strictly (JSON.parse, RunEventSchema); undefined, logged, when it holds no event. */
  private strictLine(buf: Buffer, start: number, end: number): { head: LineHead; bytes: Buffer } | undefined {
    const text = buf.toString('utf8', start, end).trim();
    if (!text) return undefined;
    const parsed = parseEvent(text);
    if (!parsed) {
      this.logger.error({ runId: this.runId, line: text.slice(0, 200) }, 'unparseable spool line skipped');
      return undefined;
    }
    const { event, plain } = parsed;
    // A plain line is forwarded as written; anything else as the schema parsed it.
    return { head: { seq: event.seq, type: event.type }, bytes: Buffer.from(plain ? text : JSON.stringify(event)) };
  }

  /**
   * One batch as NDJSON. Lines went unparsed, so when the control plane refuses the batch for a
   * malformed line (INVALID_ARGUMENT) it is read again strictly, its non-events skipped, and resent.
   */
  private async sendBatch(b: Batch): Promise<{ highestContiguousSeq: number; status?: RunStatus }> {
    const post = (body: Buffer) => this.controlPlane.appendRunEventLines(this.agentId, this.runId, body);
    const body = b.parts.length === 1 ? b.parts[0]! : Buffer.concat(b.parts);
    try {
      return await post(body);
    } catch (err) {
      if (!isOutpostError(err, 'INVALID_ARGUMENT')) throw err;
      this.logger.warn({ runId: this.runId, err: err.message }, 'batch refused; re-reading its lines strictly');
      const strict: Buffer[] = [];
      for (let at = 0; at < body.length;) {
        let nl = body.indexOf(0x0a, at);
        if (nl === -1) nl = body.length;
        const line = this.strictLine(body, at, nl);
        if (line) strict.push(line.bytes, NEWLINE);
        at = nl + 1;
      }
      if (strict.length === 0) return { highestContiguousSeq: this.lastSeq };
      return post(Buffer.concat(strict));
    }
  }

  /**
   * A window of LOG_CHUNKS_IN_FLIGHT consecutive chunks: the control plane holds a chunk whose
   * offset is ahead until the bytes before it are stored (a gap that does not fill is refused),
   * and every chunk is keyed by its offset, so a resent or reordered chunk stores each byte once.
   */
  private async shipLog(stream: ComputeLogStream): Promise<boolean> {
    const file = join(this.spoolDir, stream === 'stdout' ? SPOOL_FILES.stdout : SPOOL_FILES.stderr);
    const start = this.offsets[stream];
    const window = new SendWindow(LOG_CHUNKS_IN_FLIGHT);
    let next = start;
    const size = logChunkFor(this.controlPlane);
    /** A chunk refused for a gap (its predecessor failed, or a control plane that does not wait). */
    let gap = false;
    /** A chunk refused as too large: sent again, smaller, from the stored offset. */
    let cut = false;
    const until = Date.now() + this.passMs;
    let relookMs = RELOOK_FIRST_MS;
    for (
      let sent = 0;
      sent < LOG_SENDS_PER_PASS && Date.now() < until && !window.failed && !gap && !cut && !this.truncated[stream];
    ) {
      await window.room();
      // Until a chunk of this size has gone through to this control plane, one at a time.
      while (!window.failed && window.size > 0 && !logChunkConfirmed(this.controlPlane)) await window.next();
      if (window.failed) break;
      // Less than a whole chunk written past `next` while chunks are in flight: the control plane
      // has a body to store, so wait for the worker to write the rest (or for the window to empty)
      // rather than send a short chunk, or end the pass by draining the window, which leaves the
      // control plane without a body while the worker goes on writing.
      if (window.size > 0 && fileSize(file) - next < size) {
        await window.nextOr(relookMs);
        relookMs = Math.min(relookMs * 2, LOG_RELOOK_MAX_MS);
        continue;
      }
      relookMs = RELOOK_FIRST_MS;
      // Past the stream's first chunk in flight, only within the budget: else after its next answer.
      while (!window.failed && !this.logBudget.take(size, window.size === 0)) await window.next();
      if (window.failed || gap || cut || this.truncated[stream]) {
        if (!window.failed) this.logBudget.release(size);
        break;
      }
      let chunk: Buffer | undefined;
      try {
        chunk = this.read(file, next, size, (n) => logChunkBuffers.take(n));
      } finally {
        // Nothing to send (or the read failed): the room goes back at once.
        if (!chunk || chunk.length === 0) this.logBudget.release(size);
      }
      if (!chunk || chunk.length === 0) break;
      sent++;
      const at = next;
      next += chunk.length;
      const call = this.controlPlane.appendComputeLogs(this.agentId, this.runId, stream, at, chunk);
      // Given back before the window sees the answer, so a stream waiting in it finds the room.
      const release = (): void => this.logBudget.release(size);
      void call.then(release, release);
      window.add(
        call.then(
          (r) => {
            confirmLogChunk(this.controlPlane, chunk.length);
            logChunkBuffers.give(chunk); // body read whole; a refused chunk's is left to the GC
            // storedBytes is the control plane's truth: it may be ahead (a previous attempt) but never behind.
            this.offsets[stream] = Math.max(r.storedBytes, this.offsets[stream]);
            if (r.truncated && !this.truncated[stream]) {
              this.truncated[stream] = true;
              this.logger.warn(
                { runId: this.runId, stream },
                'compute log cap reached; the rest is kept only in the spool',
              );
            }
          },
          (err: unknown) => {
            // Resent from the stored offset on the next pass.
            if (at > start && isGapRefusal(err)) gap = true;
            else if (this.cutChunks(err, chunk.length)) cut = true;
            else throw err;
          },
        ),
      );
    }
    await window.drain();
    if (window.failed) throw window.error;
    // Cut smaller: sent again at once (a pass that stored nothing would wait for the next write).
    if (cut) return (await this.shipLog(stream)) || this.offsets[stream] > start;
    return this.offsets[stream] > start;
  }

  /** A chunk refused as too large: cut this control plane's chunks (log-chunk-size.ts); false if it is no such refusal. */
  private cutChunks(err: unknown, sent: number): boolean {
    const cut = cutLogChunk(this.controlPlane, err, sent);
    if (cut)
      this.logger.warn({ runId: this.runId, ...cut }, 'a log chunk was refused as too large; sending smaller ones');
    return cut !== undefined;
  }
}

const isGapRefusal = (e: unknown): boolean =>
  isOutpostError(e, 'INVALID_ARGUMENT') && typeof e.data?.storedBytes === 'number';

/** One batch of events: where it starts in the file, each line's head, and its NDJSON body in parts. */
interface Batch {
  pos: number;
  heads: LineHead[];
  parts: Buffer[];
}

/** A line longer than EVENT_LINE_MAX at `pos`: the head read off its first bytes, and how far it was looked through. */
interface LongLine {
  pos: number;
  scanned: number;
  head: LineHead | undefined;
}

const NEWLINE = Buffer.from('\n');

type LogSizes = Record<ComputeLogStream, number>;

const unwrap = (results: PromiseSettledResult<boolean>[]): boolean => {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.some((r) => r.status === 'fulfilled' && r.value);
};

/** A spool file's size, as readRange reads it: a regular file's, never through a link the run planted. */
function fileSize(file: string): number {
  const size = regularFileSize(file);
  return typeof size === 'number' ? size : 0;
}
