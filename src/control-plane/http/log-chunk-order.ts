// The compute-log chunks of one run's stream that this control-plane process is handling, by
// offset. The agent keeps several chunks of a stream in flight on separate connections, and their
// bodies may finish arriving in any order; a chunk whose predecessor is still being read or stored
// here waits for it in memory instead of trying its transaction, being refused for the gap, and
// trying again on every wake-up of the run (POST /agent/logs, agent-logs.ts). Entries are made
// only after the request passed authentication and ownership, and live as long as the request:
// memory is bounded by the requests in flight. Another replica's chunks are not seen here; the
// store's gap check still orders them (agent-logs.ts waits on the run's signal for those).
import type { ComputeLogStream } from '../../shared/run-events.js';

export interface ChunkEntry {
  readonly key: string;
  readonly offset: number;
  /** Resolves once the request has finished with the chunk (stored, refused or gone). */
  readonly settled: Promise<void>;
  settle(): void;
}

export class LogChunkOrder {
  private readonly streams = new Map<string, Set<ChunkEntry>>();
  /** Chunks waiting for a gap before them, woken when an earlier chunk of their stream arrives. */
  private readonly gapWaiters = new Map<string, Set<{ offset: number; wake: () => void }>>();

  /** Registers a chunk as being handled; settle() it when the request is done with it. */
  enter(runId: string, stream: ComputeLogStream, offset: number): ChunkEntry {
    const key = `${runId}\n${stream}`;
    let entries = this.streams.get(key);
    if (!entries) this.streams.set(key, (entries = new Set()));
    let resolve!: () => void;
    const settled = new Promise<void>((r) => (resolve = r));
    const entry: ChunkEntry = {
      key,
      offset,
      settled,
      settle: () => {
        const set = this.streams.get(key);
        if (set?.delete(entry) && set.size === 0) this.streams.delete(key);
        resolve();
      },
    };
    entries.add(entry);
    for (const w of this.gapWaiters.get(key) ?? []) if (offset < w.offset) w.wake();
    return entry;
  }

  /** Whether a chunk of the stream before `entry` is being handled here. */
  hasEarlier(entry: ChunkEntry): boolean {
    for (const e of this.streams.get(entry.key) ?? []) if (e.offset < entry.offset) return true;
    return false;
  }

  /** Resolves once every chunk of the stream before `entry` handled here has settled, or at `deadline`. */
  async before(entry: ChunkEntry, deadline: number): Promise<void> {
    for (;;) {
      const ahead: Promise<void>[] = [];
      for (const e of this.streams.get(entry.key) ?? []) if (e.offset < entry.offset) ahead.push(e.settled);
      const left = deadline - Date.now();
      if (ahead.length === 0 || left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(ahead), new Promise<void>((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
  }

  /**
   * A promise that resolves when a chunk of the stream earlier than `entry` enters (its bytes are
   * on their way), with a function that drops the waiter.
   */
  earlierArrival(entry: ChunkEntry): { arrived: Promise<void>; drop: () => void } {
    let set = this.gapWaiters.get(entry.key);
    if (!set) this.gapWaiters.set(entry.key, (set = new Set()));
    let wake!: () => void;
    const arrived = new Promise<void>((r) => (wake = r));
    const waiter = { offset: entry.offset, wake };
    set.add(waiter);
    const drop = (): void => {
      const s = this.gapWaiters.get(entry.key);
      if (s?.delete(waiter) && s.size === 0) this.gapWaiters.delete(entry.key);
    };
    return { arrived, drop };
  }

  /** Streams with chunks being handled (tests: nothing is left behind). */
  get size(): number {
    return this.streams.size + this.gapWaiters.size;
  }
}
