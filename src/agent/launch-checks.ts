// Pre-launch checks asked for early. Before a launch starts a worker it reads the run's cursor
// (a run stopped meanwhile is never started; a fresh one ships its first events from there).
// When this agent claims a run's launch and will host it (`all` mode), the claim's answer carries
// that cursor (read when the item was claimed), and the launch, ~20-30 ms later, takes it instead
// of a control-plane round trip of its own (a claim without one has the poller ask for it at
// once, while the run workflow starts). An answer is used once, and only
// while fresh (claimed or asked for at most `maxAgeMs` ago); else the launch asks.
// The check then reflects the run's status at the claim rather than a few ms before the spawn:
// a run terminated in between starts, and its run workflow, signalled by the termination,
// terminates it (as for a termination that lands just after the check today).
// In a burst, launches start seconds after their claim (they queue for the CPU, boot slots and
// standbys): every answer asked for then is stale by its launch, which asks again, so each run
// cost two runCursor calls (113 for 60 runs in `bench/concurrency.ts --quick`). So each claim's
// time is kept, and a claim is not prefetched while the last launch came later than `maxAgeMs`
// after its claim (within the last few seconds: a burst going on), nor while BACKLOG_MAX claims
// of the last `maxAgeMs` still wait for their launch (claims outrun launches: this one comes
// after them); a launch that comes in time, or a few quiet seconds, turn prefetching back on.
import type { RunCursor } from './control-plane-client.js';

/** Longest a prefetched answer stands in for the launch's own check. */
export const LAUNCH_CHECK_MAX_AGE_MS = 1_000;
/** How long a late launch stops prefetching for, unless another late one comes meanwhile. */
const LATE_HOLD_MS = 5_000;
/** Claims of the last maxAgeMs not launched yet beyond which a new claim's launch is taken to come too late. */
const BACKLOG_MAX = 8;
/** How long a claim's time is kept for its launch to measure the delay (a launch may never come). */
const CLAIM_RETAIN_MS = 60_000;

export class LaunchChecks {
  private readonly pending = new Map<string, { at: number; cursor: Promise<RunCursor | undefined> | undefined }>();
  /** When the last launch came later than maxAgeMs after its claim (a prefetch now would be wasted). */
  private lateAt = -Infinity;

  constructor(
    private readonly fetch: (runId: string) => Promise<RunCursor>,
    private readonly maxAgeMs = LAUNCH_CHECK_MAX_AGE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A launch of this run was claimed: keeps the cursor the claim brought (`known`), else asks for
   * it now, unless launches run late. A failure only means the launch asks itself.
   */
  prefetch(runId: string, known?: RunCursor): void {
    let cursor: Promise<RunCursor | undefined> | undefined;
    if (known) {
      cursor = Promise.resolve(known);
    } else if (this.now() - this.lateAt > LATE_HOLD_MS && this.backlog() < BACKLOG_MAX) {
      cursor = this.fetch(runId).catch(() => undefined);
    }
    const entry = { at: this.now(), cursor };
    this.pending.set(runId, entry);
    // Forgotten if no launch takes it (the workflow existed already, or its task ran elsewhere).
    setTimeout(
      () => {
        if (this.pending.get(runId) === entry) this.pending.delete(runId);
      },
      Math.max(this.maxAgeMs, CLAIM_RETAIN_MS),
    ).unref();
  }

  /** Claims of the last maxAgeMs whose launch has not come yet. */
  private backlog(): number {
    let n = 0;
    for (const { at } of this.pending.values()) if (this.now() - at <= this.maxAgeMs) n++;
    return n;
  }

  /** The prefetched answer, once and only while fresh; undefined: ask the control plane. */
  take(runId: string): Promise<RunCursor | undefined> | undefined {
    const entry = this.pending.get(runId);
    if (!entry) return undefined;
    this.pending.delete(runId);
    const fresh = this.now() - entry.at <= this.maxAgeMs;
    this.lateAt = fresh ? -Infinity : this.now();
    return fresh ? entry.cursor : undefined;
  }
}
