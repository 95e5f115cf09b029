// Ships one run's spool (events.jsonl, stdout.log, stderr.log) to the control plane in
// batches, starting from what the control plane already has (runCursor), so a restarted
// supervisor neither loses nor repeats anything: events are keyed by seq, log chunks by
// byte offset, and both appends are idempotent on the control plane. Events go out up to two
// batches at a time (the store ignores duplicate seqs and answers the highest contiguous seq, so
// a batch stored before its predecessor is harmless); compute logs up to two chunks at a time
// (the control plane holds a chunk until the bytes before it are stored).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  LOG_LEVELS,
  RUN_EVENT_TYPES,
  RunEventSchema,
  SPOOL_FILES,
  TERMINAL_EVENT_TYPES,
  type ComputeLogStream,
  type RunEvent,
} from '../shared/run-events.js';
import { isOutpostError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { ControlPlaneClient, RunCursor } from './control-plane-client.js';

/** Events per appendRunEvents call (the control plane's default limit is 10,000). */
export const EVENT_BATCH = 5_000;
/** appendRunEvents calls in flight at once for one run. */
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
    private readonly controlPlane: Pick<ControlPlaneClient, 'appendRunEvents' | 'appendComputeLogs'>,
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
    let batch: Batch = { events: [], lines: [] };
    const batches = [batch];
    let consumed = 0;
    let start = 0;
    while (start < chunk.length) {
      if (batch.events.length === EVENT_BATCH) {
        if (batches.length === EVENT_BATCHES_IN_FLIGHT) break;
        batch = { events: [], lines: [] };
        batches.push(batch);
      }
      let nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        if (!final || chunk.length === EVENT_READ) break;
        nl = chunk.length;
      }
      const line = chunk.subarray(start, nl).toString('utf8').trim();
      start = nl + 1;
      consumed = Math.min(start, chunk.length);
      if (!line) continue;
      const parsed = parseEvent(line);
      if (!parsed) {
        this.logger.error({ runId: this.runId, line: line.slice(0, 200) }, 'unparseable spool line skipped');
        continue;
      }
      const { event, plain } = parsed;
      this.maxSeqInFile = Math.max(this.maxSeqInFile, event.seq);
      if (TERMINAL_EVENT_TYPES.has(event.type)) this.sawTerminalEvent = true;
      if (event.seq > this.lastSeq) {
        batch.events.push(event);
        // A plain line is forwarded as written; anything else as the schema parsed it.
        batch.lines.push(plain ? line : JSON.stringify(event));
      }
    }
    this.eventsPos += consumed;
    const toSend = batches.filter((b) => b.events.length > 0);
    if (toSend.length === 0) return consumed > 0;
    await this.sendBatches(toSend);
    return true;
  }

  /**
   * Sends the batches, concurrently unless a later one carries a status event (which must not
   * be stored before the events ahead of it). lastSeq only ever takes the store's answer, so it
   * stays "highest contiguous seq acknowledged" even when a later batch lands first.
   */
  private async sendBatches(batches: Batch[]): Promise<void> {
    const concurrent = batches.slice(1).every((b) => !b.events.some((e) => STATUS_EVENT_TYPES.has(e.type)));
    const send = (b: Batch) =>
      this.controlPlane.appendRunEvents(this.agentId, this.runId, b.events, b.lines.join('\n'));
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

/** One batch of events, with the NDJSON lines the control plane receives for them. */
interface Batch {
  events: RunEvent[];
  lines: string[];
}

/** The event on a spool line; `plain` when the line itself is a valid event as written. */
function parseEvent(line: string): { event: RunEvent; plain: boolean } | undefined {
  try {
    const raw: unknown = JSON.parse(line);
    if (isPlainEvent(raw)) return { event: raw, plain: true };
    const parsed = RunEventSchema.safeParse(raw);
    return parsed.success ? { event: parsed.data, plain: false } : undefined;
  } catch {
    return undefined;
  }
}

const EVENT_TYPES: ReadonlySet<unknown> = new Set(RUN_EVENT_TYPES);
const LEVELS: ReadonlySet<unknown> = new Set(LOG_LEVELS);
const PLAIN_KEYS: ReadonlySet<string> = new Set(['seq', 'type', 'timestamp', 'stepKey', 'level', 'message', 'data']);

/**
 * Fast path for the common event (no `error`, no unknown keys): the same checks RunEventSchema
 * makes, without zod's per-field cost (a third of the agent's CPU while shipping a chatty run).
 * Anything else goes through the schema, which has the final word.
 */
function isPlainEvent(v: unknown): v is RunEvent {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  for (const k in e) if (!PLAIN_KEYS.has(k)) return false;
  const { seq, type, timestamp, stepKey, level, message, data } = e;
  return (
    typeof seq === 'number' &&
    Number.isInteger(seq) &&
    seq > 0 &&
    EVENT_TYPES.has(type) &&
    typeof timestamp === 'number' &&
    Number.isFinite(timestamp) &&
    (stepKey === undefined || typeof stepKey === 'string') &&
    (level === undefined || LEVELS.has(level)) &&
    (message === undefined || typeof message === 'string') &&
    (data === undefined || (typeof data === 'object' && data !== null && !Array.isArray(data)))
  );
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
    const buf = Buffer.alloc(len);
    const n = readSync(fd, buf, 0, len, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
