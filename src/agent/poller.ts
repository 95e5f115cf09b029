// Claims work items by long-poll and starts one workflow per item, then acks it.
// - Workflow id from the item (`run-<runId>` / `wi-<itemId>`), conflict policy USE_EXISTING and
//   reuse policy REJECT_DUPLICATE: a second start of the same item, running or finished, finds
//   the first one (WorkflowExecutionAlreadyStartedError counts as success). Exactly once.
// - A claimed item is never dropped: starting and acking retry with backoff until they succeed,
//   the lease is lost to another agent, or the agent stops (then the lease expiry re-queues it).
// - At most `maxInFlight` items are between claim and ack; claims ask only for free slots.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { OutpostError, isOutpostError, errorCode } from '../shared/errors.js';
import { workflowIdFor } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';
import { SA_JOB, SA_LOCATION, SA_RUN_ID, SA_WORK_ITEM_KIND } from '../shared/search-attributes.js';
import { PayloadSchemas, WORK_ITEM_KINDS, type WorkItemKind } from '../shared/work-items.js';
import { WORKFLOW_TYPES } from '../../workflows/types.js';
import { backoffDelay, sleep } from './backoff.js';
import type { ClaimedWorkItem, ControlPlaneClient } from './control-plane-client.js';

export interface PollerOptions {
  controlPlane: ControlPlaneClient;
  temporal: Client;
  agentId: string;
  /** Shared task queue the workflows run on. */
  taskQueue: string;
  maxInFlight: number;
  logger: Logger;
  /** Long-poll wait per claim; default 20 s. */
  waitMs?: number;
  /** Most items asked for in one claim; default 100, the control plane's default `--max-claim-batch`. */
  claimBatch?: number;
}

const DEFAULT_CLAIM_BATCH = 100;

/** Workflow start options for one item: id, type, args, summary and search attributes. */
export function workflowStartFor(item: ClaimedWorkItem, taskQueue: string) {
  if (!(WORK_ITEM_KINDS as readonly string[]).includes(item.kind)) {
    throw new OutpostError('UNKNOWN_KIND', { detail: `kind ${item.kind} (work item ${item.id})` });
  }
  const kind = item.kind as WorkItemKind;
  const parsed = PayloadSchemas[kind].safeParse(item.payload);
  if (!parsed.success) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `payload of ${kind} item ${item.id}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    });
  }
  const payload = parsed.data as Record<string, unknown>;
  const runId = kind === 'LAUNCH_RUN' || kind === 'TERMINATE_RUN' ? String(payload.runId) : (item.runId ?? undefined);
  const location = typeof payload.location === 'string' ? payload.location : undefined;
  const job = typeof payload.job === 'string' ? payload.job : undefined;
  const workflowId = workflowIdFor({ kind, id: item.id, runId: kind === 'LAUNCH_RUN' ? runId : item.runId });
  const what = [job && `job ${job}`, location && `in ${location}`, runId && `run ${runId}`].filter(Boolean).join(' ');
  return {
    workflowType: WORKFLOW_TYPES[kind],
    options: {
      workflowId,
      taskQueue,
      args: [{ workItemId: item.id, payload }] as [unknown],
      workflowIdConflictPolicy: 'USE_EXISTING' as const,
      workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      staticSummary: `${kind}${what ? `: ${what}` : ''}`,
      staticDetails: `Outpost work item ${item.id}`,
      typedSearchAttributes: [
        { key: SA_WORK_ITEM_KIND, value: kind },
        ...(runId ? [{ key: SA_RUN_ID, value: runId }] : []),
        ...(job ? [{ key: SA_JOB, value: job }] : []),
        ...(location ? [{ key: SA_LOCATION, value: location }] : []),
      ],
    },
  };
}

export class Poller {
  private inFlight = 0;
  private slotFreed: (() => void) | undefined;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly opts: PollerOptions) {}

  get inFlightCount(): number {
    return this.inFlight;
  }

  /** Runs until `signal` aborts, then waits for dispatches in progress to settle. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.opts.logger;
    let failures = 0;
    while (!signal.aborted) {
      const free = this.opts.maxInFlight - this.inFlight;
      if (free <= 0) {
        await new Promise<void>((res) => {
          this.slotFreed = res;
          signal.addEventListener('abort', () => res(), { once: true });
        });
        continue;
      }
      let items: ClaimedWorkItem[];
      try {
        // One claim asks for at most the control plane's batch limit (default 100): a larger
        // --max-in-flight fills over several claims instead of being refused forever.
        const limit = Math.min(free, this.opts.claimBatch ?? DEFAULT_CLAIM_BATCH);
        items = await this.opts.controlPlane.claimWork(this.opts.agentId, limit, this.opts.waitMs ?? 20_000, signal);
        failures = 0;
      } catch (err) {
        // Aborted by shutdown: an item the server claimed for this aborted poll is not lost,
        // its lease expires and it is claimed again.
        if (signal.aborted) break;
        const delay = backoffDelay(failures++, { initialMs: 500, maxMs: 15_000 });
        log.warn({ err: (err as Error).message, retryInMs: delay }, 'claimWork failed; backing off');
        await sleep(delay, signal);
        continue;
      }
      for (const item of items) {
        this.inFlight++;
        const p = this.dispatch(item, signal).finally(() => {
          this.inFlight--;
          this.pending.delete(p);
          this.slotFreed?.();
          this.slotFreed = undefined;
        });
        this.pending.add(p);
      }
    }
    await Promise.allSettled([...this.pending]);
  }

  /** Start + ack one item, retrying transient failures; unknown kinds and bad payloads fail the item. */
  async dispatch(item: ClaimedWorkItem, signal?: AbortSignal): Promise<void> {
    const log = this.opts.logger.child({
      workItemId: item.id,
      kind: item.kind,
      ...(item.runId ? { runId: item.runId } : {}),
    });
    let start: ReturnType<typeof workflowStartFor>;
    try {
      start = workflowStartFor(item, this.opts.taskQueue);
    } catch (err) {
      const e = err as OutpostError;
      log.error({ code: e.code }, e.message);
      await this.retry(log, signal, 'failWork', () =>
        this.opts.controlPlane.failWork(this.opts.agentId, item.id, { code: e.code, message: e.message }),
      );
      return;
    }
    const started = await this.retry(log, signal, 'start workflow', async () => {
      try {
        await this.opts.temporal.workflow.start(start.workflowType, start.options);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    });
    if (!started) return;
    await this.retry(log, signal, 'ackWork', () =>
      this.opts.controlPlane.ackWork(this.opts.agentId, item.id, start.options.workflowId),
    );
    log.info({ workflowId: start.options.workflowId }, 'work item dispatched');
  }

  /** Retries `fn` with backoff until it succeeds (true), the lease is lost, or we stop (false). */
  private async retry(
    log: Logger,
    signal: AbortSignal | undefined,
    what: string,
    fn: () => Promise<unknown>,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await fn();
        return true;
      } catch (err) {
        if (isOutpostError(err) && err.code === errorCode('WORK_ITEM_NOT_OWNED')) {
          log.warn('lease lost to another agent; it owns the item now');
          return false;
        }
        if (isOutpostError(err) && err.http < 500) {
          // Will never succeed (e.g. the item was pruned). The lease expiry is the last resort.
          log.error({ what, code: err.code, err: err.message }, 'giving up on the item');
          return false;
        }
        if (signal?.aborted) {
          log.warn({ what }, 'stopping with the item unfinished; its lease will expire and re-queue it');
          return false;
        }
        const delay = backoffDelay(attempt, { initialMs: 250, maxMs: 10_000 });
        log.warn({ what, err: (err as Error).message, retryInMs: delay }, 'retrying');
        await sleep(delay, signal);
      }
    }
  }
}
