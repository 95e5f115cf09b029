// How many bytes of compute-log chunks this agent has in flight to the control plane at once,
// over every stream of every run it ships (spool-shipper.ts). A stream keeps up to
// LOG_CHUNKS_IN_FLIGHT chunks on their way so that the control plane always has the next body
// received while it stores one (it stores a stream's chunks in order and holds those that arrive
// early in memory). Every chunk takes its room from this budget, and a stream's chunk past its
// first goes only when it fits, so the chunks held in memory here and in the control plane for
// this agent stay within LOG_BYTES_IN_FLIGHT plus one chunk per stream however many runs write at
// once. A stream's first chunk always goes (no stream waits on another's).
import { BodyPool } from '../shared/body-pool.js';

/**
 * Log-chunk bytes this agent keeps in flight over all streams (a stream's first chunk goes
 * regardless): 4 chunks of the default 4 MiB for one busy stream, 2 each for two.
 */
export const LOG_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/**
 * The buffers log chunks are read into, reused (shared/body-pool.ts): as many as the budget keeps
 * in flight. A chunk's goes back once the control plane answered it 200 (it read the whole body,
 * so the socket no longer reads it); a refused or failed chunk's is left to the GC.
 */
export const logChunkBuffers = new BodyPool(LOG_BYTES_IN_FLIGHT);

export class LogSendBudget {
  private used = 0;
  /** The most bytes taken at once (tests: the bound held). */
  peak = 0;

  constructor(
    /** The budget's bytes (LOG_BYTES_IN_FLIGHT unless told). */
    readonly limit = LOG_BYTES_IN_FLIGHT,
  ) {}

  /** Bytes taken now. */
  get inFlight(): number {
    return this.used;
  }

  /**
   * Takes `bytes` when they fit, or always when `first` (the stream has nothing else in flight);
   * answers whether they were taken. Each take is given back once with release().
   */
  take(bytes: number, first: boolean): boolean {
    if (!first && this.used + bytes > this.limit) return false;
    this.used += bytes;
    this.peak = Math.max(this.peak, this.used);
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

/** The budget every shipper of this process shares unless given its own. */
export const processLogBudget = new LogSendBudget();
