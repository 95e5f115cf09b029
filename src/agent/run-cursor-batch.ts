// The agent's runCursor calls, coalesced: while two are in flight, the calls that come meanwhile
// wait and then go as one `runCursors` request. In a burst every claimed launch reads its run's
// cursor before it spawns (launch-checks.ts explains why), and they all ask at once: on a 2-core
// host up to 40 of them were in flight together in `bench/concurrency.ts --quick`, each paying an
// HTTP request, GraphQL execution and the agent's authorization on the control plane, and a
// request on the agent. A call goes at once, as before, while fewer than ALONE are in flight (so
// nothing waits outside a crowd); a queued call waits at most FLUSH_MS even if those ahead hang.
// Each caller gets its own answer: a batch that fails (one run not this agent's, a control plane
// from before `runCursors`) is asked again one run at a time, so every caller sees the answer or
// the error its own call would have had. A control plane without the field is asked one at a time
// from then on.
import { isOutpostError } from '../shared/errors.js';

export interface Cursor {
  runId: string;
}

/**
 * Calls in flight below which a call goes at once, alone: a launch's check does not wait behind
 * one unrelated call (a supervision's), only behind a crowd.
 */
export const ALONE = 2;
/** A queued call waits at most this long for the calls in flight ahead of it. */
export const FLUSH_MS = 250;
/** Ids per batch: the control plane refuses more than maxClaimBatch (100 by default; a lower one, once named in a refusal, from then on). */
export const MAX_BATCH = 100;

interface Waiter<C> {
  runId: string;
  resolve: (c: C) => void;
  reject: (e: unknown) => void;
}

export class RunCursorBatcher<C extends Cursor> {
  private inFlight = 0;
  private readonly queued = new Map<string, Array<Waiter<C>>>();
  private timer: NodeJS.Timeout | undefined;
  /** Set once the control plane answered a batch as a query it does not know. */
  private batchUnsupported = false;

  constructor(
    private readonly single: (agentId: string, runId: string) => Promise<C>,
    private readonly batch: (agentId: string, runIds: string[]) => Promise<C[]>,
    private maxBatch = MAX_BATCH,
  ) {}

  get(agentId: string, runId: string): Promise<C> {
    if (this.inFlight < ALONE || this.batchUnsupported) return this.track(this.single(agentId, runId));
    return new Promise<C>((resolve, reject) => {
      const list = this.queued.get(agentId) ?? [];
      list.push({ runId, resolve, reject });
      this.queued.set(agentId, list);
      this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight++;
    const done = (): void => {
      this.inFlight--;
      this.flush();
    };
    p.then(done, done);
    return p;
  }

  /** Sends everything queued: one request per agent id and MAX_BATCH ids. */
  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const [agentId, list] of this.queued) {
      this.queued.delete(agentId);
      for (let i = 0; i < list.length; i += this.maxBatch) void this.send(agentId, list.slice(i, i + this.maxBatch));
    }
  }

  private async send(agentId: string, waiters: Array<Waiter<C>>): Promise<void> {
    if (waiters.length === 1 || this.batchUnsupported) return this.oneByOne(agentId, waiters);
    let answers: C[];
    try {
      answers = await this.track(
        this.batch(
          agentId,
          waiters.map((w) => w.runId),
        ),
      );
    } catch (err) {
      // A control plane with a lower maxClaimBatch names it: batches fit it from now on.
      const limit = isOutpostError(err, 'BATCH_TOO_LARGE') ? err.data?.value : undefined;
      if (typeof limit === 'number' && Number.isInteger(limit) && limit >= 1 && limit < waiters.length) {
        this.maxBatch = Math.min(this.maxBatch, limit);
        for (let i = 0; i < waiters.length; i += this.maxBatch)
          void this.send(agentId, waiters.slice(i, i + this.maxBatch));
        return;
      }
      // The schema refuses our fixed document (an older control plane without the field answers
      // BAD_REQUEST, its code for a validation error), or an answer with no code: never batch again.
      if (isOutpostError(err, 'BAD_REQUEST') || isOutpostError(err, 'INTERNAL')) this.batchUnsupported = true;
      return this.oneByOne(agentId, waiters);
    }
    const byId = new Map(answers.map((a) => [a.runId, a]));
    const missing = waiters.filter((w) => !byId.has(w.runId));
    for (const w of waiters) {
      const a = byId.get(w.runId);
      if (a) w.resolve(a);
    }
    if (missing.length) await this.oneByOne(agentId, missing);
  }

  private async oneByOne(agentId: string, waiters: Array<Waiter<C>>): Promise<void> {
    await Promise.all(
      waiters.map((w) =>
        this.track(this.single(agentId, w.runId)).then(
          (c) => w.resolve(c),
          (e: unknown) => w.reject(e),
        ),
      ),
    );
  }
}
