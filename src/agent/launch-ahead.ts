// Launches begun by the poller, ahead of the run workflow's first task. In `all` mode the poller
// starts a run's workflow eagerly: when Temporal hands that workflow's first task straight to
// this process's worker, the run's first step is the launch on this host (inside superviseRun
// for runWorkflowV4; a local activity of that first task, launchRunHere, for V1-V3): the
// workflow exists, this host is the one its input names, and a termination waits for a launch
// under way here (terminateProcess). So the poller
// begins that very launch at once (the same idempotent path: the launcher's intent and record,
// the pre-launch cursor check), and the local activity, 14-21 ms later (thread hops, activation,
// local-activity scheduling), joins it instead of launching again. Exactly once holds as for the
// local activity: both run in this process, the launcher serializes launches of a run, and a
// launch that failed here leaves the activity to launch as usual (retries as before). A kill -9
// meanwhile is the same as one during the local activity: the workflow task is retried, and the
// launch on this host's queue adopts the recorded worker when the agent is back.
// Nothing begins for a workflow that already existed or was not started eagerly here.

/** How long an outcome nobody joined (the first task failed and was retried elsewhere), or a launch that came first, is kept. */
const KEEP_MS = 60_000;

export class LaunchAhead<P extends { runId: string }, O> {
  private starter: ((payload: P) => Promise<O>) | undefined;
  private readonly entries = new Map<string, Promise<O>>();
  /** Runs whose launch activity came first (found nothing to join): nothing begins for them after. */
  private readonly passed = new Set<string>();
  /** Launches begun by the poller, and how many a launch activity joined (tests, benchmarks). */
  begun = 0;
  joined = 0;

  /** The launch activities hand over their launch (set once they are built). */
  serve(starter: (payload: P) => Promise<O>): void {
    this.starter = starter;
  }

  /** The poller: this run's workflow was just started eagerly here; launch now. */
  begin(payload: P): void {
    if (!this.starter || this.entries.has(payload.runId) || this.passed.has(payload.runId)) return;
    const launch = this.starter(payload);
    // A failure is the activity's to handle: it launches again as usual.
    launch.catch(() => undefined);
    this.entries.set(payload.runId, launch);
    this.begun++;
    setTimeout(() => {
      if (this.entries.get(payload.runId) === launch) this.entries.delete(payload.runId);
    }, KEEP_MS).unref();
  }

  /**
   * The launch activity: the outcome of the launch begun for this run, once; undefined when none
   * began here or it failed (then the activity launches itself).
   */
  join(runId: string): Promise<O | undefined> | undefined {
    const launch = this.entries.get(runId);
    if (!launch) {
      this.passed.add(runId);
      setTimeout(() => this.passed.delete(runId), KEEP_MS).unref();
      return undefined;
    }
    this.entries.delete(runId);
    this.joined++;
    return launch.then(
      (outcome) => outcome,
      () => undefined,
    );
  }
}
