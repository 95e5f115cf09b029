// Buffers that POST /agent/logs reads its chunk bodies into, reused from one request to the next
// (agent-logs.ts, raw-body.ts). A fresh multi-MiB buffer per chunk is external memory V8 must
// account for and collect, and pages the kernel must fault in as the body is copied into them;
// reused, neither. A buffer is lent for one request and given back once the chunk is stored or
// refused (the store copies the bytes in: nothing keeps the buffer); the request sees a view of
// exactly its body's length, so nothing of an earlier body is ever read. At most
// BODY_BUFFERS_KEPT are kept, and all are let go after BODY_BUFFERS_IDLE_MS without a request.

/** Buffers kept between requests at most (4 chunks of the default 4 MiB: one agent's window). */
export const BODY_BUFFERS_KEPT = 4;
/** Bodies smaller than this get a fresh buffer (cheap; not worth keeping). */
export const BODY_BUFFER_MIN = 1024 * 1024;
/** The kept buffers are let go after this long without a lease. */
export const BODY_BUFFERS_IDLE_MS = 10_000;

export interface BodyLease {
  /** Exactly `size` bytes, unfilled. */
  readonly buffer: Buffer;
  /** Gives the buffer back (once; later calls do nothing). */
  release(): void;
}

export class BodyBuffers {
  private free: Buffer[] = [];
  private idle?: NodeJS.Timeout;
  /** Buffers allocated so far (tests: reuse happened). */
  allocated = 0;

  constructor(
    readonly kept = BODY_BUFFERS_KEPT,
    private readonly idleMs = BODY_BUFFERS_IDLE_MS,
  ) {}

  /** Buffers kept now. */
  get size(): number {
    return this.free.length;
  }

  lease(size: number): BodyLease {
    if (size < BODY_BUFFER_MIN) return { buffer: Buffer.allocUnsafe(size), release: () => undefined };
    const at = this.free.findIndex((b) => b.length >= size);
    const whole = at >= 0 ? this.free.splice(at, 1)[0]! : this.alloc(size);
    let given = false;
    return {
      buffer: whole.subarray(0, size),
      release: () => {
        if (given) return;
        given = true;
        this.giveBack(whole);
      },
    };
  }

  private alloc(size: number): Buffer {
    this.allocated++;
    return Buffer.allocUnsafe(size);
  }

  private giveBack(whole: Buffer): void {
    if (this.free.length >= this.kept) return;
    this.free.push(whole);
    clearTimeout(this.idle);
    this.idle = setTimeout(() => (this.free = []), this.idleMs);
    this.idle.unref();
  }
}

/** The process's buffers for POST /agent/logs bodies. */
export const logBodyBuffers = new BodyBuffers();
