// Shipping a run's spool from the moment its launch is reported, until its supervision takes
// over. superviseRun is scheduled in the run workflow's first task together with the launch, but
// when the launch runs inside that task (launchRunHere) its activity task exists only once the
// task completes: supervision began 45 ms after the launch report in a traced ingest run under
// load, while a worker that logs in a loop had written thousands of events the control plane
// could already have been storing. The shipper here is the one supervision then uses (handed
// over between passes, never two passes on one spool), so where it stands, what it has sent and
// what it learned (the terminal event, the run's end status) carry over; its appends are
// supervision's own (same agent, idempotent by seq and offset), and it stops on its own after
// AHEAD_MAX_MS when no supervision comes (the run is then left to unsupervised-runs.ts as before).
import type { Logger } from '../src/shared/logger.js';
import type { RunCursor, RunSpool, SpoolPort } from './ports.js';

/** Longest a run's spool is shipped ahead of its supervision. */
export const AHEAD_MAX_MS = 15_000;

interface Ahead {
  /** Ends the loop after its current pass; the spool to go on with, or undefined when a pass failed. */
  stop: () => Promise<RunSpool | undefined>;
}

export interface ShipAheadDeps {
  spool: Pick<SpoolPort, 'open'>;
  logger: Logger;
  /** How long a pass that found nothing waits for a write: supervision's poll interval, and its idle one once writes wake it. */
  pollMs: number;
  idleMs: number;
  /** The run's first events are stored: held-back work may start (the launcher's launchSettled). */
  settled?: (runId: string) => void;
  maxMs?: number;
}

export class ShipAhead {
  private readonly runs = new Map<string, Ahead>();
  /** Supervisions under way in this process, per run: while one is, nothing ships ahead. */
  private readonly supervised = new Map<string, number>();

  constructor(private readonly deps: ShipAheadDeps) {}

  /**
   * A supervision of `runId` begins (call the returned function when it ends): no shipping ahead
   * starts until then. A launch may report after supervision already holds the spool (a retried
   * launch attempt adopted the worker and posted first, then the first attempt's report returned).
   */
  supervise(runId: string): () => void {
    this.supervised.set(runId, (this.supervised.get(runId) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.supervised.get(runId) ?? 1) - 1;
      if (left > 0) this.supervised.set(runId, left);
      else this.supervised.delete(runId);
    };
  }

  /** Starts shipping `runId`'s spool from `cursor` (the launch report's answer); once per run, never while it is supervised. */
  start(runId: string, cursor: RunCursor): void {
    if (this.runs.has(runId) || this.supervised.has(runId)) return;
    const spool = this.deps.spool.open(runId, cursor);
    const stopping = new AbortController();
    const timer = setTimeout(() => stopping.abort(), this.deps.maxMs ?? AHEAD_MAX_MS).unref();
    let failed = false;
    const loop = (async () => {
      while (!stopping.signal.aborted) {
        const progressed = await spool.shipOnce(false);
        if (progressed) this.deps.settled?.(runId);
        else if (!stopping.signal.aborted) {
          // Writes wake it (inotify): polling is then only a fallback, as in supervision.
          const ms = spool.watching ? this.deps.idleMs : this.deps.pollMs;
          await spool.waitForWrite(ms, stopping.signal);
        }
      }
    })().catch((err: unknown) => {
      // Supervision starts again from a cursor: nothing sent is lost, nothing stored is repeated.
      failed = true;
      this.deps.logger.debug({ runId, err }, 'shipping ahead of supervision stopped');
    });
    const ended = loop.finally(() => {
      clearTimeout(timer);
      // Not taken in time: nobody else holds this spool object.
      if (this.runs.get(runId) === ahead) {
        this.runs.delete(runId);
        spool.close();
      }
    });
    const ahead: Ahead = {
      stop: async () => {
        stopping.abort();
        await loop;
        clearTimeout(timer);
        if (!failed) return spool;
        spool.close();
        return undefined;
      },
    };
    this.runs.set(runId, ahead);
    void ended;
  }

  /** The spool shipped ahead for `runId`, its loop ended after the pass in progress; else undefined. */
  async take(runId: string): Promise<RunSpool | undefined> {
    const ahead = this.runs.get(runId);
    if (!ahead) return undefined;
    this.runs.delete(runId);
    return ahead.stop();
  }

  /** Runs shipped ahead now (tests, diagnostics). */
  get size(): number {
    return this.runs.size;
  }
}
