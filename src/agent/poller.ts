// Claims work items by long-poll and starts one workflow per item, then acks it.
// - Workflow id from the item (`run-<runId>` / `wi-<itemId>`), conflict policy USE_EXISTING and
//   reuse policy REJECT_DUPLICATE: a second start of the same item, running or finished, finds
//   the first one (WorkflowExecutionAlreadyStartedError counts as success). Exactly once.
// - A claimed item is never dropped: starting retries with backoff until it succeeds, the lease
//   is lost to another agent, or the agent stops (then the lease expiry re-queues it).
// - Acks ride on the next claimWork (one request fewer per item); one waiting longer than
//   `ackDelayMs` (the claim long-poll is idle) is sent alone. An ack only stops the lease from
//   expiring, so a late or lost one costs at most a re-claim that finds the same workflow.
// - At most `maxInFlight` items are being started at once; claims ask only for free slots.
// - While Temporal does not answer, no item is claimed: a claim would only hold the item under
//   leases that expire, each re-claim spending one of its attempts, until a run launched during
//   a few minutes' outage failed WORK_ITEM_EXHAUSTED. The poller says TEMPORAL_UNAVAILABLE once,
//   asks Temporal again with backoff (capped at 2 s), and claims again once it answers.
import {
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  isGrpcServiceError,
  type Client,
} from '@temporalio/client';
import { status as grpcStatus } from '@grpc/grpc-js';
import { OutpostError, isOutpostError, errorCode, errorLogFields } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { SA_JOB, SA_LOCATION, SA_RUN_ID, SA_WORK_ITEM_KIND } from '../shared/search-attributes.js';
import { PayloadSchemas, WORK_ITEM_KINDS, type WorkItemKind, type WorkItemPayload } from '../shared/work-items.js';
import { TERMINATE_SIGNAL, WORKFLOW_TYPES, runWorkflowId, workflowIdFor } from '../shared/workflow-contract.js';
import { backoffDelay, sleep, type BackoffOptions } from '../shared/backoff.js';
import { temporalUnavailable } from './temporal-reach.js';
import type { ClaimedWorkItem, ControlPlaneClient, RunCursor, WorkAck } from './control-plane-client.js';
import { formatZodIssues } from '../shared/zod-issues.js';

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
  /** Most items asked for (and acks sent) in one claim; default 100, the control plane's default `--max-claim-batch`. */
  claimBatch?: number;
  /**
   * This agent's host queue, when it also runs workers: runs it claims are launched here,
   * skipping the run workflow's host-pinning activity (one activity and workflow task less).
   */
  hostTaskQueue?: string;
  /** Longest an ack waits for the next claim before it is sent alone; default 1 s (leases last 60 s). */
  ackDelayMs?: number;
  /**
   * When this process also hosts runs: on TERMINATE_RUN, SIGTERM the run's worker at once if it
   * runs here (Launcher.requestTermination). The run workflow still terminates it (SIGTERM again,
   * grace, SIGKILL, drain) and stays the durable path; this spares termination a workflow task
   * and an activity dispatch. Unset in `poller` mode. Default: none.
   */
  terminateLocally?: (runId: string) => Promise<boolean>;
  /**
   * Ask the server to hand the first workflow task back in the start response (eager start).
   * Only when `temporal` runs on the NativeConnection of a worker of `taskQueue` in this process
   * (`all` mode): that worker runs the task at once, sparing a task-queue match and a poll.
   * The server falls back to an ordinary start when the worker has no free slot. Default false.
   */
  eagerStart?: boolean;
  /**
   * Called with the run id of each LAUNCH_RUN item before its workflow starts, when this process
   * launches the runs it claims (`all` mode): the launch's pre-launch check is taken from the
   * cursor the claim brought (claims then ask for it), or asked for now (launch-checks.ts).
   * Default: none.
   */
  prefetchLaunch?: (runId: string, cursor?: RunCursor) => void;
  /**
   * Called with a LAUNCH_RUN item's payload once its run workflow was started eagerly here (its
   * first task handed to this process's worker, whose first step is launching on this host): the
   * launch begins now and that task's launch joins it (launch-ahead.ts). Never for a workflow
   * that already existed or was not started eagerly. Default: none.
   */
  launchAhead?: (payload: WorkItemPayload<'LAUNCH_RUN'>) => void;
  /** Backoff between failed claims; default CLAIM_RETRY (tests pass a longer one). */
  claimRetry?: BackoffOptions;
  /** Temporal's address, named in the TEMPORAL_UNAVAILABLE the poller logs; default "Temporal". */
  temporalAddress?: string;
  /** Backoff between asking a Temporal that did not answer again; default TEMPORAL_RETRY. */
  temporalRetry?: BackoffOptions;
}

/** Backoff between asking Temporal again while it does not answer: capped at 2 s, like the agent's start. */
export const TEMPORAL_RETRY = { initialMs: 500, maxMs: 2_000 } as const satisfies BackoffOptions;

/** How long one "does Temporal answer" question waits (a frozen frontend never answers). */
const TEMPORAL_PROBE_DEADLINE_MS = 5_000;

/**
 * Backoff between failed claims: full jitter in [cap/2, cap], capped at 2 s like registration's.
 * A claim is one cheap request a second to a control plane that is down, and once it is back,
 * work waits at most ~2 s (it waited up to 15 s). Any other request of the agent that gets an
 * answer meanwhile (a heartbeat, a shipment) ends the wait at once (controlPlaneAnswered).
 */
export const CLAIM_RETRY = { initialMs: 250, maxMs: 2_000 } as const satisfies BackoffOptions;

/**
 * Temporal's refusal of a workflow start that no retry can change (gRPC INVALID_ARGUMENT: e.g.
 * an input past its payload size limit), as a coded error; undefined for anything else. A
 * namespace without Outpost's search attributes is refused the same way, but that is the
 * cluster's setup, not the item: fixed once they are registered (README), so it is retried.
 */
export function permanentStartRefusal(err: unknown, item: ClaimedWorkItem): OutpostError | undefined {
  const cause = err instanceof ServiceError ? err.cause : undefined;
  if (!isGrpcServiceError(cause) || cause.code !== grpcStatus.INVALID_ARGUMENT) return undefined;
  if (UNREGISTERED_SEARCH_ATTRIBUTE.test(cause.details || cause.message)) return undefined;
  return new OutpostError('INVALID_ARGUMENT', {
    detail: `Temporal refused the workflow of ${item.kind} item ${item.id}: ${cause.details || cause.message}`,
  });
}

/** Temporal's words for a search attribute its namespace does not know (not one past a size limit). */
const UNREGISTERED_SEARCH_ATTRIBUTE = /no mapping defined for search attribute/i;

/** Why a call is retried: Temporal's own words too ('Failed to start Workflow' alone says nothing). */
function retryReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof ServiceError ? err.cause : undefined;
  return isGrpcServiceError(cause) ? `${message}: ${cause.details || cause.message}` : message;
}

const DEFAULT_CLAIM_BATCH = 100;
const DEFAULT_ACK_DELAY_MS = 1_000;

/** Workflow start options for one item: id, type, args, summary and search attributes. */
export function workflowStartFor(item: ClaimedWorkItem, taskQueue: string, hostTaskQueue?: string) {
  if (!(WORK_ITEM_KINDS as readonly string[]).includes(item.kind)) {
    throw new OutpostError('UNKNOWN_KIND', { detail: `kind ${item.kind} (work item ${item.id})` });
  }
  const kind = item.kind as WorkItemKind;
  const parsed = PayloadSchemas[kind].safeParse(item.payload);
  if (!parsed.success) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `payload of ${kind} item ${item.id}: ${formatZodIssues(parsed.error)}`,
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
      args: [
        { workItemId: item.id, payload, ...(kind === 'LAUNCH_RUN' && hostTaskQueue ? { hostTaskQueue } : {}) },
      ] as [unknown],
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
  /** Started items waiting for their ack, in start order. */
  private readonly acks = new Map<string, WorkAck>();
  private ackTimer: NodeJS.Timeout | undefined;
  /** The stop signal of the work whose acks wait: a timed flush gives up with it, not never. */
  private ackSignal: AbortSignal | undefined;
  /** Workflows the server started eagerly (their first task handed straight to our worker). */
  eagerStarts = 0;
  /** Ends the backoff after a failed claim early (controlPlaneAnswered). */
  private backoffWake: AbortController | undefined;
  /** Set while Temporal does not answer: nothing is claimed until it does. */
  private temporalDown: { since: number; error: OutpostError } | undefined;
  /** Ends the claim long-poll in progress (Temporal went away: what it would claim could not start). */
  private claimAbort: AbortController | undefined;

  constructor(private readonly opts: PollerOptions) {}

  private get claimBatch(): number {
    return this.opts.claimBatch ?? DEFAULT_CLAIM_BATCH;
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  /**
   * Some other request of this agent just got an answer from the control plane: a claim waiting
   * out its backoff after a failure is sent now (the control plane is back), not at the next try.
   */
  controlPlaneAnswered(): void {
    this.backoffWake?.abort();
  }

  /** Runs until `signal` aborts, then waits for dispatches in progress to settle. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.opts.logger;
    let failures = 0;
    while (!signal.aborted) {
      if (this.temporalDown) {
        await this.untilTemporalAnswers(signal);
        continue;
      }
      const free = this.opts.maxInFlight - this.inFlight;
      if (free <= 0) {
        await new Promise<void>((res) => {
          this.slotFreed = res;
          signal.addEventListener('abort', () => res(), { once: true });
        });
        continue;
      }
      let items: ClaimedWorkItem[];
      const acks = this.takeAcks(this.claimBatch);
      try {
        // One claim asks for at most the control plane's batch limit (default 100): a larger
        // --max-in-flight fills over several claims instead of being refused forever.
        const limit = Math.min(free, this.claimBatch);
        this.claimAbort = new AbortController();
        items = await this.opts.controlPlane.claimWork(
          this.opts.agentId,
          limit,
          this.opts.waitMs ?? 20_000,
          AbortSignal.any([signal, this.claimAbort.signal]),
          acks,
          // Each launch's pre-launch check rides on the claim: no runCursor request per launch.
          this.opts.prefetchLaunch ? { launchCursors: true } : undefined,
        );
        failures = 0;
      } catch (err) {
        // Not known to have landed: send them again (acking twice is harmless).
        for (const a of acks) this.queueAck(a, signal);
        // Aborted by shutdown: an item the server claimed for this aborted poll is not lost,
        // its lease expires and it is claimed again.
        if (signal.aborted) break;
        // Ended because Temporal went away: the server gives back what it claimed for it.
        if (this.claimAbort?.signal.aborted) continue;
        const delay = backoffDelay(failures++, this.opts.claimRetry ?? CLAIM_RETRY);
        log.warn({ ...errorLogFields(err), retryInMs: delay }, 'claimWork failed; backing off');
        // Only a claim that did not reach the control plane is sent again when another request
        // gets through: one it refused (a revoked token, an internal error) would be refused again.
        if (!isOutpostError(err, 'CONTROL_PLANE_UNAVAILABLE')) {
          await sleep(delay, signal);
          continue;
        }
        const wake = new AbortController();
        this.backoffWake = wake;
        await sleep(delay, AbortSignal.any([signal, wake.signal]));
        this.backoffWake = undefined;
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
    // Stopping: one attempt at each ack still waiting; any not sent only costs a re-claim later.
    await this.flushAcks(signal);
  }

  /** Up to `max` waiting acks, removed from the queue. */
  private takeAcks(max: number): WorkAck[] {
    const taken: WorkAck[] = [];
    for (const a of this.acks.values()) {
      if (taken.length >= max) break;
      taken.push(a);
      this.acks.delete(a.id);
    }
    if (!this.acks.size) this.clearAckTimer();
    return taken;
  }

  private queueAck(ack: WorkAck, signal: AbortSignal | undefined): void {
    this.acks.set(ack.id, ack);
    this.ackSignal = signal;
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      void this.flushAcks(this.ackSignal);
    }, this.opts.ackDelayMs ?? DEFAULT_ACK_DELAY_MS);
  }

  private clearAckTimer(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  /** Sends every waiting ack on its own (the claim long-poll is idle, or we are stopping). */
  private async flushAcks(signal?: AbortSignal): Promise<void> {
    const acks = this.takeAcks(Number.MAX_SAFE_INTEGER);
    await Promise.all(
      acks.map((a) =>
        this.retry(this.opts.logger.child({ workItemId: a.id }), signal, 'ackWork', () =>
          this.opts.controlPlane.ackWork(this.opts.agentId, a.id, a.workflowId),
        ),
      ),
    );
  }

  /**
   * Starts one item's workflow, retrying transient failures, and queues its ack; unknown kinds
   * and bad payloads fail the item.
   */
  async dispatch(item: ClaimedWorkItem, signal?: AbortSignal): Promise<void> {
    const log = this.opts.logger.child({
      workItemId: item.id,
      kind: item.kind,
      ...(item.runId ? { runId: item.runId } : {}),
    });
    let start: ReturnType<typeof workflowStartFor>;
    try {
      start = workflowStartFor(item, this.opts.taskQueue, this.opts.hostTaskQueue);
    } catch (err) {
      const e = err as OutpostError;
      log.error({ code: e.code }, e.message);
      await this.retry(log, signal, 'failWork', () =>
        this.opts.controlPlane.failWork(this.opts.agentId, item.id, { code: e.code, message: e.message }),
      );
      return;
    }
    if (item.kind === 'TERMINATE_RUN') await this.signalTerminateNow(item, log);
    if (item.kind === 'LAUNCH_RUN' && this.opts.prefetchLaunch) {
      const runId = (start.options.args[0] as { payload: { runId?: unknown } }).payload.runId;
      if (typeof runId === 'string') this.opts.prefetchLaunch(runId, item.runCursor ?? undefined);
    }
    let refused: OutpostError | undefined;
    const started = await this.retry(log, signal, 'start workflow', async () => {
      try {
        const handle = await this.opts.temporal.workflow.start(start.workflowType, {
          ...start.options,
          ...(this.opts.eagerStart ? { requestEagerStart: true } : {}),
        });
        if (!handle.eagerlyStarted) return;
        this.eagerStarts++;
        const input = start.options.args[0] as { payload: WorkItemPayload<'LAUNCH_RUN'>; hostTaskQueue?: string };
        if (item.kind === 'LAUNCH_RUN' && input.hostTaskQueue !== undefined) this.opts.launchAhead?.(input.payload);
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return;
        const down = this.temporalOutage(err, 'starting a workflow');
        if (down) {
          this.noteTemporalDown(down);
          throw down;
        }
        // Retrying would hold this in-flight slot forever: the item fails instead, once.
        refused = permanentStartRefusal(err, item);
        if (!refused) throw err;
      }
    });
    if (!started) return;
    if (refused) {
      const e = refused;
      log.error({ code: e.code }, e.message);
      await this.retry(log, signal, 'failWork', () =>
        this.opts.controlPlane.failWork(this.opts.agentId, item.id, { code: e.code, message: e.message }),
      );
      return;
    }
    this.queueAck({ id: item.id, workflowId: start.options.workflowId }, signal);
    log.info({ workflowId: start.options.workflowId }, 'work item dispatched');
  }

  /** TEMPORAL_UNAVAILABLE when `err` (or the cause a client's ServiceError wraps) means Temporal did not answer. */
  private temporalOutage(err: unknown, what: string): OutpostError | undefined {
    const address = this.opts.temporalAddress ?? 'Temporal';
    const cause = err instanceof ServiceError ? err.cause : undefined;
    return temporalUnavailable(err, address, what) ?? (cause ? temporalUnavailable(cause, address, what) : undefined);
  }

  /** Stops claiming until Temporal answers; said once per outage, coded, with what to do. */
  private noteTemporalDown(error: OutpostError): void {
    if (this.temporalDown) return;
    this.temporalDown = { since: Date.now(), error };
    this.claimAbort?.abort();
    this.opts.logger.error(
      { ...errorLogFields(error), inFlight: this.inFlight },
      'Temporal does not answer; no work is claimed until it does (claimed items wait for it)',
    );
  }

  /** Asks Temporal, with backoff, until it answers or we stop; then claiming resumes. */
  private async untilTemporalAnswers(signal: AbortSignal): Promise<void> {
    const log = this.opts.logger;
    const { temporal } = this.opts;
    for (let attempt = 0; !signal.aborted; attempt++) {
      await sleep(backoffDelay(attempt, this.opts.temporalRetry ?? TEMPORAL_RETRY), signal);
      if (signal.aborted) return;
      try {
        await temporal.connection.withDeadline(Date.now() + TEMPORAL_PROBE_DEADLINE_MS, () =>
          // Not getSystemInfo: a client may answer that from what it kept at connect.
          temporal.workflowService.describeNamespace({ namespace: temporal.options.namespace }),
        );
      } catch (err) {
        const down = this.temporalOutage(err, 'asking for its system info');
        if (down) {
          log.debug({ code: down.code, err: down.message, attempt }, 'Temporal still does not answer');
          continue;
        }
        // It answered, if only with a refusal: starting workflows will say what is wrong.
        log.debug({ err: retryReason(err) }, 'Temporal answered the probe with a refusal');
      }
      const downMs = this.temporalDown ? Date.now() - this.temporalDown.since : 0;
      log.info({ code: this.temporalDown?.error.code, downMs }, 'Temporal answers again; claiming work');
      this.temporalDown = undefined;
      return;
    }
  }

  /**
   * Fast path for TERMINATE_RUN: the run workflow gets its `terminate` signal straight from here,
   * sparing termination the terminate workflow's start and task. Best effort: the terminate
   * workflow started next delivers it again (the handler only sets a flag, so twice is once) and
   * handles a run workflow that does not exist.
   */
  private async signalTerminateNow(item: ClaimedWorkItem, log: Logger): Promise<void> {
    const runId = (item.payload as { runId?: unknown }).runId;
    if (typeof runId !== 'string') return;
    const local = this.opts.terminateLocally?.(runId).catch((err: unknown) => {
      log.debug({ err: (err as Error).message }, 'local SIGTERM failed; the run workflow will send it');
      return false;
    });
    try {
      await this.opts.temporal.workflow
        .getHandle(runWorkflowId(runId))
        .signal(TERMINATE_SIGNAL, { reason: `work item ${item.id}` });
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'direct terminate signal not delivered; the terminate workflow will');
    }
    await local;
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
        // Temporal away is said once, by the poller (noteTemporalDown), not per item per try.
        if (isOutpostError(err, 'TEMPORAL_UNAVAILABLE'))
          log.debug({ what, code: err.code, retryInMs: delay }, 'retrying');
        else log.warn({ what, err: retryReason(err), retryInMs: delay }, 'retrying');
        await sleep(delay, signal);
      }
    }
  }
}
