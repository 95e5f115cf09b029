// Ships one run's spool (events.jsonl, stdout.log, stderr.log) to the control plane in
// batches, starting from what the control plane already has (runCursor), so a restarted
// supervisor neither loses nor repeats anything: events are keyed by seq, log chunks by
// byte offset, and both appends are idempotent on the control plane.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  RunEventSchema,
  SPOOL_FILES,
  TERMINAL_EVENT_TYPES,
  type ComputeLogStream,
  type RunEvent,
} from '../shared/run-events.js';
import type { Logger } from '../shared/logger.js';
import type { ControlPlaneClient, RunCursor } from './control-plane-client.js';

/** Events per appendRunEvents call. */
export const EVENT_BATCH = 2_000;
/** Bytes per appendComputeLogs call (before base64). */
export const LOG_CHUNK = 1024 * 1024;
/** Bytes of events.jsonl read per pass. */
const EVENT_READ = 4 * 1024 * 1024;

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
    private readonly spoolDir: string,
    private readonly controlPlane: ControlPlaneClient,
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
    const batch: RunEvent[] = [];
    let consumed = 0;
    let start = 0;
    while (start < chunk.length && batch.length < EVENT_BATCH) {
      let nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        if (!final || chunk.length === EVENT_READ) break;
        nl = chunk.length;
      }
      const line = chunk.subarray(start, nl).toString('utf8').trim();
      start = nl + 1;
      consumed = Math.min(start, chunk.length);
      if (!line) continue;
      const event = parseEvent(line);
      if (!event) {
        this.logger.error({ runId: this.runId, line: line.slice(0, 200) }, 'unparseable spool line skipped');
        continue;
      }
      this.maxSeqInFile = Math.max(this.maxSeqInFile, event.seq);
      if (TERMINAL_EVENT_TYPES.has(event.type)) this.sawTerminalEvent = true;
      if (event.seq > this.lastSeq) batch.push(event);
    }
    this.eventsPos += consumed;
    if (batch.length === 0) return consumed > 0;
    const res = await this.controlPlane.appendRunEvents(this.runId, batch);
    this.lastSeq = Math.max(this.lastSeq, res.highestContiguousSeq);
    return true;
  }

  private async shipLog(stream: ComputeLogStream): Promise<boolean> {
    if (this.truncated[stream]) return false;
    const file = join(this.spoolDir, stream === 'stdout' ? SPOOL_FILES.stdout : SPOOL_FILES.stderr);
    const data = readRange(file, this.offsets[stream], LOG_CHUNK);
    if (!data || data.length === 0) return false;
    const res = await this.controlPlane.appendComputeLogs(this.runId, stream, this.offsets[stream], data);
    if (res.truncated) {
      this.truncated[stream] = true;
      this.logger.warn({ runId: this.runId, stream }, 'compute log cap reached; the rest is kept only in the spool');
    }
    // storedBytes is the control plane's truth: it may be ahead (a previous attempt) but never behind.
    this.offsets[stream] = Math.max(res.storedBytes, this.offsets[stream]);
    return true;
  }
}

function parseEvent(line: string): RunEvent | undefined {
  try {
    const parsed = RunEventSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
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
