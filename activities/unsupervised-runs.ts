// Run workers no supervision watches. A worker is launched here and then its workflow supervises
// it (superviseRun), until the workflow itself stops it. Two ways broke that chain, each leaving
// a user's run executing with nobody to stop it and the run shown STARTED for good:
// - the run's workflow closed in Temporal itself (Terminate in the Temporal UI or CLI) rather than
//   by the public `terminate` signal: supervision is told NOT_FOUND and ends, and the workflow will
//   never signal the worker;
// - it closed before its first task completed, while the launch begun ahead of that task (or the
//   local activity in it) had already started the worker, e.g. terminated during a slow first task
//   or after the agent died mid-task: no supervision was ever scheduled.
// So every worker launched here, and every live worker recorded when the agent starts, is
// watched: once no superviseRun of this process has been supervising it for a while, the run's
// workflow is asked for by id. Closed, the agent supervises the run itself as a termination:
// SIGTERM, grace, SIGKILL, every event shipped, and the run ended CANCELED unless the worker
// ended it. Open (a reset workflow's new run, a first task retried late) or unknown (Temporal not
// reachable), it is asked again later; nothing is ever stopped on a guess.
import type { Logger } from '../src/shared/logger.js';
import type { RunSpool } from './ports.js';

/** How long a worker goes unsupervised here before its workflow is asked about. */
export const UNSUPERVISED_CHECK_MS = 30_000;

/** How long a worker gets after SIGTERM before SIGKILL (the workflow's default grace). */
export const UNSUPERVISED_GRACE_MS = 10_000;

export interface UnsupervisedRunsDeps {
  /** Whether the run's workflow is still open (undefined: could not tell). */
  workflowOpen: (runId: string) => Promise<boolean | undefined>;
  /** Whether the run's recorded worker still lives. */
  isAlive: (runId: string) => Promise<boolean>;
  /** Supervises the run to its end as a termination, outside any activity. */
  superviseToEnd: (runId: string) => Promise<unknown>;
  logger: Logger;
  checkMs?: number;
}

export class UnsupervisedRuns {
  /** superviseRun attempts running in this process, per run. */
  private readonly supervising = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Runs the agent is supervising itself: never twice. */
  private readonly ending = new Set<string>();
  private readonly checkMs: number;

  constructor(private readonly deps: UnsupervisedRunsDeps) {
    this.checkMs = deps.checkMs ?? UNSUPERVISED_CHECK_MS;
  }

  /** Set once this process's worker is shutting down: nothing is checked any more. */
  private stopped = false;

  /** A worker launched (or found recorded) here: checked unless supervision takes it first. */
  watch(runId: string, afterMs = this.checkMs): void {
    if (this.ending.has(runId) || this.stopped) return;
    clearTimeout(this.timers.get(runId));
    const timer = setTimeout(() => void this.check(runId), afterMs);
    timer.unref();
    this.timers.set(runId, timer);
  }

  /**
   * A superviseRun attempt began; call the returned function when it ends, with why: its
   * workflow gone (NOT_FOUND), the worker shutting down (the agent stops: nothing more is
   * checked; the next agent looks at what is recorded), or anything else.
   */
  supervise(runId: string): (end: 'workflow-gone' | 'shutdown' | 'other') => void {
    this.supervising.set(runId, (this.supervising.get(runId) ?? 0) + 1);
    clearTimeout(this.timers.get(runId));
    this.timers.delete(runId);
    return (end) => {
      if (end === 'shutdown') this.stop();
      const left = (this.supervising.get(runId) ?? 1) - 1;
      if (left > 0) this.supervising.set(runId, left);
      else this.supervising.delete(runId);
      // Told its workflow is gone, look at once; any other end (done, cancelled by the
      // workflow, agent stopping) is looked at later only if the worker is still there.
      if (!left) this.watch(runId, end === 'workflow-gone' ? 0 : this.checkMs);
    };
  }

  /** Stops checking (the agent is stopping). */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** Timers pending (tests). */
  get watched(): number {
    return this.timers.size;
  }

  private async check(runId: string): Promise<void> {
    this.timers.delete(runId);
    if (this.supervising.has(runId) || this.ending.has(runId)) return;
    const log = this.deps.logger.child({ runId });
    try {
      if (!(await this.deps.isAlive(runId))) return;
      const open = await this.deps.workflowOpen(runId);
      if (open !== false) {
        if (!this.supervising.has(runId)) this.watch(runId);
        return;
      }
      // Another check of this run (a supervision that ended meanwhile checks at once) may have
      // begun ending it while this one asked Temporal: never twice.
      if (this.supervising.has(runId) || this.ending.has(runId) || this.stopped) return;
      this.ending.add(runId);
      log.warn(
        'a run worker is alive but its workflow is closed (ended in Temporal, not by the terminate signal): stopping it and ending the run',
      );
      await this.deps.superviseToEnd(runId);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'could not stop an unsupervised run worker; checking again later');
      this.ending.delete(runId);
      this.watch(runId);
    }
  }
}

interface Stop {
  termAt?: number;
  killed: boolean;
}

/**
 * A worker found by its spool after its recorded process was gone (a sandbox's outer process
 * died while the worker inside goes on): signalled through the spool's writers once the run is
 * being terminated, SIGTERM, then SIGKILL after the grace period.
 */
export class SpoolWriterStop {
  private readonly stop: Stop = { killed: false };

  constructor(
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  pass(shipper: RunSpool, terminating: boolean): void {
    if (!terminating && !shipper.terminationRecorded()) return;
    const at = this.now();
    if (this.stop.termAt === undefined) {
      this.stop.termAt = at;
      this.log.warn({ groups: shipper.signalWriters('SIGTERM') }, 'sent SIGTERM to the run worker found by its spool');
    } else if (!this.stop.killed && at - this.stop.termAt >= UNSUPERVISED_GRACE_MS) {
      this.stop.killed = true;
      this.log.warn({ groups: shipper.signalWriters('SIGKILL') }, 'sent SIGKILL to the run worker found by its spool');
    }
  }
}
