// Exponential backoff with full jitter, and a sleep that an AbortSignal cuts short.

export interface BackoffOptions {
  /** First delay in ms; default 250. */
  initialMs?: number;
  /** Ceiling in ms; default 10 s. */
  maxMs?: number;
  /** Random source in [0, 1); default Math.random (tests pass their own). */
  random?: () => number;
}

/** Delay before attempt `attempt` (0-based): uniform in [cap/2, cap], cap = min(max, initial * 2^attempt). */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const initial = opts.initialMs ?? 250;
  const max = opts.maxMs ?? 10_000;
  const cap = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  const r = (opts.random ?? Math.random)();
  return Math.round(cap / 2 + (cap / 2) * r);
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
