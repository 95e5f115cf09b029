// The agent-facing work-queue actions that change more than the queue: the long-poll claim
// (which first expires leases), completing an item and failing one, each applying its effects
// (services/work-effects.ts: runs from ticks, a failed launch's run, a location's load error)
// in the same transaction as the item's own move, so they happen exactly once.
import { OutpostError } from '../../shared/errors.js';
import { boundedFailure } from '../../shared/message-limits.js';
import { ResultSchemas, type WorkItemKind } from '../../shared/work-items.js';
import { formatZodIssues } from '../../shared/zod-issues.js';
import type { Store } from '../store/store.js';
import type { RunStatus } from '../core/run-state.js';
import { lockRun, lockRunIn } from '../store/runs.js';
import { getWorkItem, type WorkItemView } from '../store/work-items.js';
import {
  ackWorkBatch,
  assertMayFinish,
  claimOnce,
  finishable,
  hasExpiredLeases,
  isFinished,
  listExhaustedLeases,
  markCompleted,
  markFailed,
  releaseClaim,
  requeueExpiredLeases,
  requireItem,
  type WorkCaller,
} from '../store/work-queue.js';
import { applyCompletion, applyFailure, type RunInputLimits } from './work-effects.js';

/** Longest single wait between re-checks, so expired leases are noticed without a wake-up. */
const RECHECK_MS = 1_000;

export interface ClaimOptions {
  agentId: string;
  limit: number;
  waitMs: number;
  /** Ends the wait early (e.g. the HTTP client went away). */
  signal?: AbortSignal;
  /** Items this agent started since its last claim: acked first (ackWorkBatch's rule), before any lease is swept. */
  acks?: ReadonlyArray<{ id: string; workflowId: string }>;
  /**
   * Throws once the caller's token is revoked. Checked when a pass after a wait claimed items:
   * a poll that waited past a revocation gives them back instead of leasing them to it.
   */
  reauthenticate?: () => Promise<unknown>;
}

/**
 * The first pass of a claim that carries acks: the acks and the claim in one transaction (one
 * commit instead of two), or, when a lease has lapsed meanwhile, the acks alone (the sweep and
 * the claim then follow as in any pass, after the acks, as before). Undefined in that case.
 */
async function ackAndClaim(
  store: Store,
  opts: ClaimOptions & { acks: ReadonlyArray<{ id: string; workflowId: string }> },
): Promise<WorkItemView[] | undefined> {
  return store.transaction(async (trx) => {
    await ackWorkBatch(store, opts.agentId, opts.acks, trx);
    if (await hasExpiredLeases(trx, store.now())) return undefined;
    return claimOnce(store, opts.agentId, opts.limit, trx);
  });
}

export async function claimWork(store: Store, opts: ClaimOptions): Promise<WorkItemView[]> {
  const deadline = Date.now() + Math.max(0, opts.waitMs);
  // Bounded: each pass either returns or waits at least until the next wake-up or recheck.
  for (let pass = 0; pass < 1_000_000; pass++) {
    const acks = pass === 0 && opts.acks?.length ? opts.acks : undefined;
    // The client went away (mid-wait, or before the first pass): what it started is still acked,
    // but nothing is claimed for an answer nobody reads (it would sit out a whole lease).
    if (opts.signal?.aborted) {
      if (acks) await ackWorkBatch(store, opts.agentId, acks);
      return [];
    }
    let items = acks ? await ackAndClaim(store, { ...opts, acks }) : undefined;
    if (!items) {
      await expireLeases(store);
      items = await claimOnce(store, opts.agentId, opts.limit);
    }
    if (items.length && opts.signal?.aborted) {
      // It went away while this pass claimed: the items go back at once, as never claimed.
      if (await releaseClaim(store, opts.agentId, items)) store.signals.notifyWork();
      return [];
    }
    if (items.length && pass > 0 && opts.reauthenticate) {
      try {
        await opts.reauthenticate();
      } catch (err) {
        // Revoked while it waited: the items go back at once, as never claimed.
        if (await releaseClaim(store, opts.agentId, items)) store.signals.notifyWork();
        throw err;
      }
    }
    const remaining = deadline - Date.now();
    if (items.length || remaining <= 0) return items;
    await store.signals.waitFor('work', Math.min(remaining, RECHECK_MS), opts.signal);
  }
  return [];
}

/**
 * CLAIMED items whose lease ran out go back to QUEUED, or to FAILED once they have used
 * their attempts. Safe to run from any number of replicas at once (conditional updates).
 */
export async function expireLeases(store: Store): Promise<number> {
  const now = store.now();
  // Every claim pass sweeps first and almost never finds a lapsed lease: a read, instead of an
  // UPDATE (on SQLite a write lock, taken twice per claim) and a second read.
  if (!(await hasExpiredLeases(store.db, now))) return 0;
  const requeued = await requeueExpiredLeases(store, now);
  const exhausted = await listExhaustedLeases(store, now);
  for (const row of exhausted) {
    // Only as listed: the holder may ack a lapsed lease meanwhile (then its workflow is running).
    await failItem(
      store,
      row.id,
      {
        code: 'OUTPOST_ERR_WORK_ITEM_EXHAUSTED',
        message: `lease expired after ${row.attempts} of ${row.max_attempts} attempts (last holder ${row.lease_owner ?? '?'})`,
      },
      (eb) => eb.and([eb('status', '=', 'CLAIMED'), eb('lease_expires_at', '<=', now)]),
    );
  }
  if (requeued) store.signals.notifyWork();
  return requeued + exhausted.length;
}

/**
 * A claimed item -> COMPLETED with a result, and its effects (runs from ticks, held to `limits`
 * as launches are; default DEFAULT_API_LIMITS) in the same transaction. Idempotent: a finished item is returned as it is. Refused, changing nothing, for
 * an item never claimed or leased under another token (see WorkCaller).
 */
export async function completeWork(
  store: Store,
  agentId: string,
  id: string,
  result: unknown,
  caller?: WorkCaller,
  limits?: RunInputLimits,
): Promise<WorkItemView> {
  const current = await requireItem(store, id);
  await assertMayFinish(store.db, current, caller);
  if (isFinished(current.status)) return current;
  const schema = ResultSchemas[current.kind] as (typeof ResultSchemas)[WorkItemKind] | undefined;
  const parsed = schema ? schema.safeParse(result) : undefined;
  if (!parsed?.success) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `result for ${current.kind}: ${parsed ? formatZodIssues(parsed.error) : 'unknown kind'}`,
    });
  }
  let notify = false;
  const item = await store.transaction(async (trx) => {
    if (current.runId) await lockRun(trx, store, current.runId);
    if (await markCompleted(trx, store, current, parsed.data, finishable(caller))) {
      notify = await applyCompletion(trx, store, current, parsed.data, agentId, limits);
    }
    return (await getWorkItem(trx, id))!;
  });
  // Not updated and not finished: the lease moved (expired, re-queued, re-claimed) meanwhile.
  if (!isFinished(item.status)) await assertMayFinish(store.db, item, caller);
  if (notify) store.signals.notifyWork();
  return item;
}

/** A claimed item -> FAILED with a coded error, and its effects (a failed launch fails the run). Same rules as completeWork. */
export async function failWork(
  store: Store,
  _agentId: string,
  id: string,
  error: { code: string; message: string },
  caller?: WorkCaller,
): Promise<WorkItemView> {
  const current = await requireItem(store, id);
  await assertMayFinish(store.db, current, caller);
  if (isFinished(current.status)) return current;
  // An agent's words, kept with the item and, for a launch, shown as its run's ENGINE event.
  const item = await failItem(store, id, boundedFailure(error), finishable(caller));
  if (!isFinished(item.status)) await assertMayFinish(store.db, item, caller);
  return item;
}

/** Item `id` -> FAILED where `guard` holds (default: not finished), with its effects. */
export async function failItem(
  store: Store,
  id: string,
  error: { code: string; message: string },
  guard?: Parameters<typeof markFailed>[4],
  /** Fail it only while its run is in one of these (row-locked until commit). */
  runIn?: readonly RunStatus[],
): Promise<WorkItemView> {
  return store.transaction(async (trx) => {
    const current = (await getWorkItem(trx, id))!;
    // The run before the item (store/runs.ts lockRun), whether or not its status decides.
    if (runIn && current.runId && !(await lockRunIn(trx, current.runId, runIn))) return current;
    if (!runIn && current.runId) await lockRun(trx, store, current.runId);
    if (await markFailed(trx, store, id, error, guard)) await applyFailure(trx, store, current, error);
    return (await getWorkItem(trx, id))!;
  });
}
