// The run's event spool: RunEvents as JSON lines with consecutive seq, written by this process
// only. Writes are batched (a LOG-heavy op must not pay a syscall per line) and fsynced at step
// boundaries and at the end, so the agent's tailer sees durable, complete lines.
import { closeSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { RunEvent } from '../../shared/run-events.js';
import { TERMINAL_EVENT_TYPES, isDiskFull } from '../../shared/run-spool.js';

export type NewEvent = Omit<RunEvent, 'seq' | 'timestamp'>;

/** Flush when this many bytes are buffered, or after FLUSH_DELAY_MS, whichever comes first. */
const FLUSH_BYTES = 256 * 1024;
const FLUSH_DELAY_MS = 50;

export class EventSpool {
  private readonly fd: number;
  private seq = 0;
  private buffer: string[] = [];
  private bufferedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private closed = false;

  /**
   * Opens `path` for appending. Refuses a spool that already holds events: one worker per run.
   * `onFull` is called when a write or fsync finds the filesystem full (isDiskFull): nothing more,
   * a terminal event included, can be recorded then. Default: the error is thrown.
   */
  constructor(
    readonly path: string,
    private readonly onFull: (err: Error) => void = (err) => {
      throw err;
    },
  ) {
    this.fd = openSync(path, 'a', 0o600);
    if (fstatSync(this.fd).size > 0) {
      closeSync(this.fd);
      throw new Error(`${path} already holds events: another worker ran for this run`);
    }
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** True once a terminal event is written; later appends are dropped. */
  get isFinished(): boolean {
    return this.finished;
  }

  /** Returns the event's seq, or undefined when the spool is already finished. */
  append(event: NewEvent): number | undefined {
    if (this.finished) return undefined;
    const seq = ++this.seq;
    // The bytes of JSON.stringify({ seq, timestamp, ...event }) without building that object:
    // the event's own JSON minus its opening brace (it always has `type`, so it is never `{}`).
    const line = `{"seq":${seq},"timestamp":${Date.now()},${JSON.stringify(event).slice(1)}\n`;
    this.buffer.push(line);
    this.bufferedBytes += line.length;
    if (TERMINAL_EVENT_TYPES.has(event.type)) {
      this.finished = true;
      this.sync();
    } else if (this.bufferedBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS).unref();
    return seq;
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.buffer.length) return;
    const data = this.buffer.join('');
    this.buffer = [];
    this.bufferedBytes = 0;
    try {
      const written = writeSync(this.fd, data);
      // A short write (the filesystem filling up) is continued: the next write says why it stopped.
      if (written < Buffer.byteLength(data)) {
        const rest = Buffer.from(data);
        for (let done = written; done < rest.length;) done += writeSync(this.fd, rest, done);
      }
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      this.onFull(err as Error);
    }
  }

  /** Flush and fsync: called at step boundaries and at the end of the run. */
  sync(): void {
    this.flush();
    try {
      fsyncSync(this.fd);
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      this.onFull(err as Error);
    }
  }

  /**
   * Flush now (readers see the lines at once), fsync on the next turn of the event loop: for
   * RUN_START, whose fsync would otherwise delay a standby's `accepted`. close() syncs anyway.
   */
  syncSoon(): void {
    this.flush();
    setImmediate(() => {
      if (!this.closed) this.sync();
    });
  }

  close(): void {
    this.sync();
    closeSync(this.fd);
    this.closed = true;
  }
}
