// Ships one run's spool (events.jsonl, stdout.log, stderr.log) to the control plane in
// batches, starting from what the control plane already has (runCursor), so a restarted
// supervisor neither loses nor repeats anything: events are keyed by seq, log chunks by
// byte offset, and both appends are idempotent on the control plane. Events go out up to two
// batches at a time (the store ignores duplicate seqs and answers the highest contiguous seq, so
// a batch stored before its predecessor is harmless); compute logs one chunk at a time, since
// the control plane refuses an offset gap.
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
import type { Logger } from '../shared/logger.js';
import type { ControlPlaneClient, RunCursor } from './control-plane-client.js';

/** Events per appendRunEvents call (the control plane's default limit is 10,000). */
export const EVENT_BATCH = 5_000;
/** appendRunEvents calls in flight at once for one run. */
export const EVENT_BATCHES_IN_FLIGHT = 2;
/** Bytes per appendComputeLogs call (before base64). */
export const LOG_CHUNK = 1024 * 1024;
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

  private async shipLog(stream: ComputeLogStream): Promise<boolean> {
    if (this.truncated[stream]) return false;
    const file = join(this.spoolDir, stream === 'stdout' ? SPOOL_FILES.stdout : SPOOL_FILES.stderr);
    const data = readRange(file, this.offsets[stream], LOG_CHUNK);
    if (!data || data.length === 0) return false;
    const res = await this.controlPlane.appendComputeLogs(this.agentId, this.runId, stream, this.offsets[stream], data);
    if (res.truncated) {
      this.truncated[stream] = true;
      this.logger.warn({ runId: this.runId, stream }, 'compute log cap reached; the rest is kept only in the spool');
    }
    // storedBytes is the control plane's truth: it may be ahead (a previous attempt) but never behind.
    this.offsets[stream] = Math.max(res.storedBytes, this.offsets[stream]);
    return true;
  }
}

/** One batch of events, with the NDJSON lines the control plane receives for them. */
interface Batch {
  events: RunEvent[];
  lines: string[];
}

/**
 * The complete event lines of a spool after seq `afterSeq`, at most `max`, joined as NDJSON
 * (each as written when it is a plain event, else as the schema parsed it): what a launch sends
 * with its report, so a warm worker's RUN_START needs no round trip of its own. Reads at most
 * the first 64 KiB; what is not sent here the shipper sends (it skips seqs the store has).
 */
export function eventLinesAfter(spoolDir: string, afterSeq: number, max: number): string {
  const chunk = readRange(join(spoolDir, SPOOL_FILES.events), 0, 64 * 1024);
  if (!chunk) return '';
  const end = chunk.lastIndexOf(0x0a);
  if (end < 0) return '';
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
