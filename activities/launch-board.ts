// Where a launch on this host meets the supervision scheduled with it. The run workflow
// starts superviseRun together with launchRun (both on this host's queue, so in this
// process); supervision waits here until the launch has been reported, then ships the spool
// at once: RUN_START reaches the control plane without waiting for a workflow task.
import type { RunCursor } from './ports.js';

/** How a launch ended: a worker runs (with the cursor read just before it, if fresh), or none will. */
export type Launched = { cursor?: RunCursor } | undefined;

/** How long an outcome nobody asked for is kept (a workflow that did not start supervision with the launch). */
const KEEP_MS = 60_000;

export class LaunchBoard {
  private readonly entries = new Map<string, { promise: Promise<Launched>; resolve: (l: Launched) => void }>();
  /** Runs whose launchRun is executing in this process now. */
  readonly inFlight = new Set<string>();

  private entry(runId: string) {
    let e = this.entries.get(runId);
    if (!e) {
      let resolve!: (l: Launched) => void;
      const promise = new Promise<Launched>((r) => (resolve = r));
      e = { promise, resolve };
      this.entries.set(runId, e);
    }
    return e;
  }

  /** Called by launchRun once the launch is reported (or it ended without a worker). */
  post(runId: string, launched: Launched): void {
    const e = this.entry(runId);
    e.resolve(launched);
    setTimeout(() => {
      if (this.entries.get(runId) === e) this.entries.delete(runId);
    }, KEEP_MS).unref();
  }

  /** Resolves with the launch's outcome once posted; the caller races it against a timer. */
  wait(runId: string): Promise<Launched> {
    return this.entry(runId).promise;
  }

  /** Forgets the run's outcome (supervision has it). */
  take(runId: string): void {
    this.entries.delete(runId);
  }
}
