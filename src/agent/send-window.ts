// A window of requests in flight (spool-shipper.ts: event batches, log chunks): the next is sent
// as soon as one is answered, at most `limit` at once.

/**
 * Requests in flight, at most `limit`: room() waits for one to settle when it is full; the first
 * failure is kept (failed/error) and the rest still run to their end (drain()).
 */
export class SendWindow {
  private readonly pending = new Set<Promise<void>>();
  failed = false;
  error: unknown;

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.pending.size;
  }

  add(p: Promise<void>): void {
    const tracked: Promise<void> = p.then(
      () => undefined,
      (err: unknown) => {
        if (!this.failed) {
          this.failed = true;
          this.error = err;
        }
      },
    );
    const settled = tracked.then(() => {
      this.pending.delete(settled);
    });
    this.pending.add(settled);
  }

  /** Resolves once one request in flight has settled. */
  async next(): Promise<void> {
    if (this.pending.size) await Promise.race(this.pending);
  }

  /** Resolves once one request in flight has settled, or after `ms`, whichever is first. */
  async nextOr(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.next(), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  async room(): Promise<void> {
    while (this.pending.size >= this.limit) await this.next();
  }

  async drain(): Promise<void> {
    while (this.pending.size) await this.next();
  }
}
