// A cap on run workers booting at once (cold spawns). A worker's boot (Node, the loader, the
// user's imports: ~0.3 s of CPU each) is the costly part of a run start; a burst of 200 of them
// on a small host puts hundreds of runnable processes (each its own scheduler autogroup, since
// workers are session leaders) against the agent, which then waits for a CPU for most of the
// burst. With a cap, at most N boot at a time and the rest wait here, before anything about
// their spawn is recorded: an agent killed meanwhile left no trace, and the launch that Temporal
// retries spawns once (process-launcher.ts). Waiting is a promise, never a blocking call, so
// heartbeats (their own thread) and everything else in the agent go on.
// A boot ends when the worker has written its second spool event (the first is RUN_START,
// written before the user's code is imported; the next comes once it is loaded: STEP_START,
// or the run's end), when the process exits, or after `bootTimeoutMs`, whichever is first.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { SPOOL_FILES } from '../../shared/run-events.js';
import { NO_LINK_NO_WAIT, regularFileSize } from '../../shared/user-writable-files.js';

/**
 * Default cap: two booting workers per core, at least 4. A boot also waits (on its loader thread,
 * on fsync), so one per core leaves cores idle, and on a shared host the burst then yields to
 * every other process (quick bench, 2 cores: a cap of 2 took 1.4-1.6× as long as none, 8 about
 * the same as none); a few booting workers still weigh little against the agent next to hundreds.
 */
export function defaultMaxBooting(): number {
  return Math.max(4, 2 * availableParallelism());
}

/** A boot that has not ended by then gives its slot back anyway (a slow import, a hung worker). */
export const DEFAULT_BOOT_TIMEOUT_MS = 15_000;
const POLL_MS = 20;

export class BootSlots {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  /** Most boots ever in flight at once (for tests and the agent's own reports). */
  peak = 0;

  /** `limit` 0 = no cap. */
  constructor(readonly limit: number) {}

  /** Resolves with a release function once a slot is free (FIFO). Release is idempotent. */
  async acquire(): Promise<() => void> {
    if (this.limit > 0 && this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.queue.shift()?.();
    };
  }

  get booting(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }
}

/** A first line longer than this is not a RUN_START: the boot is taken to have ended. */
const FIRST_LINE_MAX = 64 * 1024;
/** Shared read buffer: probes read synchronously, one at a time on the agent's thread. */
const SCRATCH = Buffer.allocUnsafe(4096);

/**
 * Watches one spool's events file for its second line. It reads the file only until the end of
 * the first line (RUN_START, a few hundred bytes) is known, each byte once; from then on a poll
 * is one stat: the boot has ended once the file is longer than that line. (A poll used to zero a
 * fresh 64 KiB buffer and open, read and close the file: every 20 ms for each booting worker, on
 * the agent's main thread, in a burst.)
 */
export class BootProbe {
  /** Offset of the first line's newline, once seen. */
  private firstLineEnd = -1;
  /** Bytes of the first line read so far, none of them a newline. */
  private scanned = 0;
  /** Bytes read from the file in all (tests). */
  bytesRead = 0;

  constructor(private readonly file: string) {}

  ended(): boolean {
    const size = regularFileSize(this.file);
    if (size === undefined) return false;
    // Not a regular file: the run's code swapped it (for a symlink, a FIFO), so it is running.
    if (size === 'other') return true;
    if (this.firstLineEnd < 0 && size > this.scanned) this.scan(size);
    if (this.firstLineEnd < 0) return this.scanned >= FIRST_LINE_MAX;
    return size > this.firstLineEnd + 1;
  }

  /** Reads on from where the last scan stopped, up to `size`, looking for the first newline. */
  private scan(size: number): void {
    let fd: number;
    try {
      // Swapped since the lstat: a link is not followed, a FIFO not waited on (fstat below).
      fd = openSync(this.file, constants.O_RDONLY | NO_LINK_NO_WAIT);
    } catch {
      return;
    }
    try {
      if (!fstatSync(fd).isFile()) return;
      while (this.scanned < size && this.scanned < FIRST_LINE_MAX) {
        const n = readSync(fd, SCRATCH, 0, Math.min(SCRATCH.length, size - this.scanned), this.scanned);
        if (n <= 0) return;
        this.bytesRead += n;
        const nl = SCRATCH.subarray(0, n).indexOf(10);
        if (nl >= 0) {
          this.firstLineEnd = this.scanned + nl;
          return;
        }
        this.scanned += n;
      }
    } catch {
      return;
    } finally {
      closeSync(fd);
    }
  }
}

/** Whether the spool's event file holds at least two lines (RUN_START and one more). */
export function bootEnded(spoolDir: string): boolean {
  return new BootProbe(join(spoolDir, SPOOL_FILES.events)).ended();
}

/**
 * Resolves once the worker writing `spoolDir` has booted (see the header), `exited` settles,
 * or `timeoutMs` passes. Polls: the file is small, and only booting workers are watched.
 */
export function whenBooted(
  spoolDir: string,
  exited: Promise<unknown>,
  timeoutMs = DEFAULT_BOOT_TIMEOUT_MS,
): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(limit);
      resolve();
    };
    const probe = new BootProbe(join(spoolDir, SPOOL_FILES.events));
    const poll = setInterval(() => {
      if (probe.ended()) finish();
    }, POLL_MS);
    const limit = setTimeout(finish, timeoutMs);
    exited.then(finish, finish);
  });
}
