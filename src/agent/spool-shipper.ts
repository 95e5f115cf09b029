// Ships one run's spool (events.jsonl, stdout.log, stderr.log) to the control plane in
// batches, starting from what the control plane already has (runCursor), so a restarted
// supervisor neither loses nor repeats anything: events are keyed by seq, log chunks by
// byte offset, and both appends are idempotent on the control plane. Event lines go as written
// (spool-lines.ts reads their seq and type off the bytes), up to two
// batches at a time (the store ignores duplicate seqs and answers the highest contiguous seq, so
// a batch stored before its predecessor is harmless); compute logs up to two chunks at a time
// (the control plane holds a chunk until the bytes before it are stored).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SPOOL_FILES, TERMINAL_EVENT_TYPES, type ComputeLogStream } from '../shared/run-events.js';
import { isOutpostError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { ControlPlaneClient, RunCursor } from './control-plane-client.js';
import { lineHead, parseEvent, type LineHead } from './spool-lines.js';

/** Events per appendRunEventLines call (the control plane's default limit is 10,000). */
export const EVENT_BATCH = 5_000;
/** appendRunEventLines calls in flight at once for one run. */
export const EVENT_BATCHES_IN_FLIGHT = 2;
/** Bytes per appendComputeLogs call. */
export const LOG_CHUNK = 1024 * 1024;
/** appendComputeLogs calls in flight at once for one stream. */
export const LOG_CHUNKS_IN_FLIGHT = 2;
/** Bytes of events.jsonl read per pass. */
const EVENT_READ = 8 * 1024 * 1024;
/** Events that move the run's status: the store applies them in commit order. */
const STATUS_EVENT_TYPES: ReadonlySet<string> = new Set(['RUN_START', ...TERMINAL_EVENT_TYPES]);

export class SpoolShipper {
  /** Highest contiguous seq the control plane has. */
  lastSeq: number;
  /** Highest seq seen in the spool file. */
  maxSeqInFile = 0;
  sawTerminalEvent = false;
  private eventsPos = 0;
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
  ) {
    this.lastSeq = cursor.lastSeq;
    this.offsets = { stdout: cursor.stdoutBytes, stderr: cursor.stderrBytes };
  }

  /**
   * One pass over the three files. `final` means the writer is gone, so an unterminated last
   * line of events.jsonl is complete as it will ever be. Returns true when anything was shipped.
   */
  async shipOnce(final = false): Promise<boolean> {
    let progressed = await this.shipEvents(final);
    for (const stream of ['stdout', 'stderr'] as const) progressed = (await this.shipLog(stream)) || progressed;
    return progressed;
  }

  private async shipEvents(final: boolean): Promise<boolean> {
    const file = join(this.spoolDir, SPOOL_FILES.events);
    const chunk = readRange(file, this.eventsPos, EVENT_READ);
    if (!chunk || chunk.length === 0) return false;
    let batch = newBatch();
    const batches = [batch];
    let consumed = 0;
    let start = 0;
    while (start < chunk.length) {
      if (batch.heads.length === EVENT_BATCH) {
        if (batches.length === EVENT_BATCHES_IN_FLIGHT) break;
        batch = newBatch();
        batches.push(batch);
      }
      let nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        if (!final || chunk.length === EVENT_READ) break;
        nl = chunk.length;
      }
      const lineStart = start;
      start = nl + 1;
      consumed = Math.min(start, chunk.length);
      // The common line goes as its own bytes; anything else is parsed (and maybe skipped) now.
      const fast = lineHead(chunk, lineStart, nl);
      const line = fast ? { head: fast, bytes: chunk.subarray(lineStart, nl) } : this.strictLine(chunk, lineStart, nl);
      if (!line) continue;
      this.maxSeqInFile = Math.max(this.maxSeqInFile, line.head.seq);
      if (TERMINAL_EVENT_TYPES.has(line.head.type)) this.sawTerminalEvent = true;
      if (line.head.seq > this.lastSeq) {
        batch.heads.push(line.head);
        batch.lines.push(line.bytes);
      }
    }
    this.eventsPos += consumed;
    const toSend = batches.filter((b) => b.heads.length > 0);
    if (toSend.length === 0) return consumed > 0;
    await this.sendBatches(toSend);
    return true;
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
   * Sends the batches, concurrently unless a later one carries a status event (which must not
   * be stored before the events ahead of it). lastSeq only ever takes the store's answer, so it
   * stays "highest contiguous seq acknowledged" even when a later batch lands first.
   */
  private async sendBatches(batches: Batch[]): Promise<void> {
    const concurrent = batches.slice(1).every((b) => !b.heads.some((e) => STATUS_EVENT_TYPES.has(e.type)));
    const send = (b: Batch) => this.sendBatch(b);
    if (!concurrent) {
      for (const b of batches) {
        const res = await send(b);
        this.lastSeq = Math.max(this.lastSeq, res.highestContiguousSeq);
      }
      return;
    }
    const results = await Promise.allSettled(batches.map(send));
    for (const r of results)
      if (r.status === 'fulfilled') this.lastSeq = Math.max(this.lastSeq, r.value.highestContiguousSeq);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * One batch as NDJSON. Lines went unparsed, so when the control plane refuses the batch for a
   * malformed line (INVALID_ARGUMENT) it is read again strictly, its non-events skipped, and resent.
   */
  private async sendBatch(b: Batch): Promise<{ highestContiguousSeq: number }> {
    const post = (lines: Buffer[]) => this.controlPlane.appendRunEventLines(this.agentId, this.runId, joinLines(lines));
    try {
      return await post(b.lines);
    } catch (err) {
      if (!isOutpostError(err, 'INVALID_ARGUMENT')) throw err;
      this.logger.warn({ runId: this.runId, err: err.message }, 'batch refused; re-reading its lines strictly');
      const strict = b.lines.flatMap((l) => this.strictLine(l, 0, l.length)?.bytes ?? []);
      if (strict.length === 0) return { highestContiguousSeq: this.lastSeq };
      return post(strict);
    }
  }

  /**
   * Up to LOG_CHUNKS_IN_FLIGHT consecutive chunks at once: the control plane holds a chunk whose
   * offset is ahead until the bytes before it are stored (a gap that does not fill is refused),
   * and every chunk is keyed by its offset, so a resent or reordered chunk stores each byte once.
   */
  private async shipLog(stream: ComputeLogStream): Promise<boolean> {
    if (this.truncated[stream]) return false;
    const file = join(this.spoolDir, stream === 'stdout' ? SPOOL_FILES.stdout : SPOOL_FILES.stderr);
    const start = this.offsets[stream];
    const data = readRange(file, start, LOG_CHUNK * LOG_CHUNKS_IN_FLIGHT);
    if (!data || data.length === 0) return false;
    const sends: Promise<{ storedBytes: number; truncated: boolean }>[] = [];
    for (let at = 0; at < data.length; at += LOG_CHUNK) {
      const chunk = data.subarray(at, at + LOG_CHUNK);
      sends.push(this.controlPlane.appendComputeLogs(this.agentId, this.runId, stream, start + at, chunk));
    }
    const results = await Promise.allSettled(sends);
    let failure: Error | undefined;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        // storedBytes is the control plane's truth: it may be ahead (a previous attempt) but never behind.
        this.offsets[stream] = Math.max(r.value.storedBytes, this.offsets[stream]);
        if (r.value.truncated && !this.truncated[stream]) {
          this.truncated[stream] = true;
          this.logger.warn(
            { runId: this.runId, stream },
            'compute log cap reached; the rest is kept only in the spool',
          );
        }
        // A later chunk refused for a gap (its predecessor failed, or a control plane that does
        // not wait for it) is resent from the stored offset on the next pass.
      } else if (failure === undefined && !(i > 0 && isGapRefusal(r.reason))) {
        failure = r.reason instanceof Error ? r.reason : new Error(String(r.reason));
      }
    });
    if (failure !== undefined) throw failure;
    return this.offsets[stream] > start;
  }
}

const isGapRefusal = (e: unknown): boolean =>
  isOutpostError(e, 'INVALID_ARGUMENT') && typeof e.data?.storedBytes === 'number';

/** One batch of events: each line's head, and the line as it will be sent. */
interface Batch {
  heads: LineHead[];
  lines: Buffer[];
}

const newBatch = (): Batch => ({ heads: [], lines: [] });

const NEWLINE = Buffer.from('\n');

function joinLines(lines: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of lines) parts.push(l, NEWLINE);
  return Buffer.concat(parts);
}

/**
 * The complete event lines of a spool after seq `afterSeq`, at most `max`, joined as NDJSON
 * (each as written when it is a plain event, else as the schema parsed it): what a launch sends
 * with its report, so a warm worker's RUN_START needs no round trip of its own. Reads at most
 * the first 64 KiB; what is not sent here the shipper sends (it skips seqs the store has).
 */
export function eventLinesAfter(spoolDir: string, afterSeq: number, max: number): string {
  const chunk = readRange(join(spoolDir, SPOOL_FILES.events), 0, 64 * 1024);
  const end = chunk ? chunk.lastIndexOf(0x0a) : -1;
  if (!chunk || end < 0) return '';
  const out: string[] = [];
  for (const raw of chunk.subarray(0, end).toString('utf8').split('\n')) {
    const line = raw.trim();
    const parsed = line ? parseEvent(line) : undefined;
    if (!parsed || parsed.event.seq <= afterSeq) continue;
    // Contiguous from afterSeq only: the store would leave anything after a gap uncounted.
    if (parsed.event.seq !== afterSeq + out.length + 1) break;
    out.push(parsed.plain ? line : JSON.stringify(parsed.event));
    if (out.length >= max) break;
  }
  return out.join('\n');
}

/** Up to `max` bytes of `file` from `offset`; undefined when the file does not exist yet. */
function readRange(file: string, offset: number, max: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = statSync(file).size;
    const len = Math.min(max, size - offset);
    if (len <= 0) return Buffer.alloc(0);
    // Unfilled: every byte up to n is read over it, and only those are used.
    const buf = Buffer.allocUnsafe(len);
    const n = readSync(fd, buf, 0, len, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
