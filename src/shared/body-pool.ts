// Reusable buffers for compute-log chunks, the largest bodies either side handles: the control
// plane reads POST /agent/logs bodies into them (raw-body.ts), the agent reads spool chunks into
// them (spool-shipper.ts). A fresh multi-MiB Buffer per chunk is external memory V8 counts, and
// every few dozen MiB of it brings a mark-compact GC of the whole heap: through the real server
// ~0.3-0.5 ms of the control plane's CPU per MiB (bench/agent-api-cpu.ts), which the store's own
// appends (the floor) never pay, and in the agent a quarter of its CPU while shipping.
// A buffer comes back only when nothing reads or writes it any more: on the control plane once
// the store's call has settled (both drivers have copied the bytes by then: better-sqlite3 binds
// blobs as transient, pg serialises them into its message), in the agent once the chunk was
// answered 200 (the whole body was read off the socket). The pool keeps at most maxBytes, and an
// idle pool lets go of its buffers after idleMs, so a quiet process holds none of them.

/** Bytes the pool keeps for reuse at most (four default 4 MiB chunks: one stream's window). */
export const BODY_POOL_BYTES = 16 * 1024 * 1024;
/** Bodies smaller than this are allocated as before (fresh memory costs little below it). */
export const BODY_POOL_MIN_BYTES = 256 * 1024;
/** A pool unused this long drops what it keeps (the memory goes back on the next GC). */
export const BODY_POOL_IDLE_MS = 5_000;

export interface BodyPoolStats {
  /** take() answered with a kept buffer. */
  reused: number;
  /** take() allocated (small bodies included). */
  allocated: number;
  /** Bytes kept for reuse now. */
  keptBytes: number;
}

export class BodyPool {
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  /** Each view handed out and not yet given back, with the whole buffer it is a view of. */
  private readonly out = new WeakMap<Buffer, Buffer>();
  private lastUse = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private counts = { reused: 0, allocated: 0 };

  constructor(
    private readonly maxBytes = BODY_POOL_BYTES,
    private readonly idleMs = BODY_POOL_IDLE_MS,
  ) {}

  /** A buffer of exactly `size` bytes, its contents undefined; give() it back when done. */
  take(size: number): Buffer {
    this.lastUse = Date.now();
    if (size < BODY_POOL_MIN_BYTES) {
      this.counts.allocated++;
      return Buffer.allocUnsafe(size);
    }
    const i = this.kept.findIndex((b) => b.length >= size);
    let whole: Buffer;
    if (i >= 0) {
      whole = this.kept.splice(i, 1)[0]!;
      this.keptBytes -= whole.length;
      this.counts.reused++;
    } else {
      // Slow: never a slice of Node's shared pool, so no other Buffer shares its memory.
      whole = Buffer.allocUnsafeSlow(size);
      this.counts.allocated++;
    }
    const view = whole.length === size ? whole : whole.subarray(0, size);
    this.out.set(view, whole);
    return view;
  }

  /**
   * Takes back a view take() handed out, once nothing reads or writes it any more. A buffer the
   * pool did not hand out, or one already given back, is ignored (so a second give is harmless).
   */
  give(view: Buffer): void {
    const whole = this.out.get(view);
    if (!whole) return;
    this.out.delete(view);
    if (this.keptBytes + whole.length > this.maxBytes) return;
    this.kept.push(whole);
    this.keptBytes += whole.length;
    this.lastUse = Date.now();
    this.armIdle();
  }

  stats(): BodyPoolStats {
    return { ...this.counts, keptBytes: this.keptBytes };
  }

  /** Drops what is kept once the pool has gone idleMs without a take or a give. */
  private armIdle(): void {
    if (this.idleTimer) return;
    const check = (): void => {
      const idleFor = Date.now() - this.lastUse;
      if (idleFor < this.idleMs) {
        this.idleTimer = setTimeout(check, this.idleMs - idleFor).unref();
        return;
      }
      this.idleTimer = undefined;
      this.kept.length = 0;
      this.keptBytes = 0;
    };
    this.idleTimer = setTimeout(check, this.idleMs).unref();
  }
}
