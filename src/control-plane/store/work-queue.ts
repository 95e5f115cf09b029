// The durable work queue: long-poll claims with leases, idempotent ack/complete/fail, and
// lease expiry that returns items to the queue or fails them after their maximum attempts.
// Claims are one atomic UPDATE ... RETURNING (SQLite, single writer) or use FOR UPDATE SKIP
// LOCKED (PostgreSQL), so two agents never hold the same item. Only a claimed item can be
// finished, and through the agent API only under the token its lease holder is bound to.
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { OutpostError } from '../../shared/errors.js';
import { workflowIdFor } from '../../shared/workflow-contract.js';
import { ResultSchemas, type WorkItemKind } from '../../shared/work-items.js';
import { agentTokenId } from './agents.js';
import type { Database, WorkItemsTable } from './schema.js';
import type { Store } from './store.js';
import { applyCompletion, applyFailure } from './work-effects.js';
import { getWorkItem, toWorkItemView, type Exec, type WorkItemView } from './work-items.js';

/** Longest single wait between re-checks, so expired leases are noticed without a wake-up. */
const RECHECK_MS = 1_000;

export interface ClaimOptions {
  agentId: string;
  limit: number;
  waitMs: number;
  /** Ends the wait early (e.g. the HTTP client went away). */
  signal?: AbortSignal;
}

export async function claimWork(store: Store, opts: ClaimOptions): Promise<WorkItemView[]> {
  const deadline = Date.now() + Math.max(0, opts.waitMs);
  // Bounded: each pass either returns or waits at least until the next wake-up or recheck.
  for (let pass = 0; pass < 1_000_000; pass++) {
    await expireLeases(store);
    const items = await claimOnce(store, opts.agentId, opts.limit);
    const remaining = deadline - Date.now();
    if (items.length || remaining <= 0 || opts.signal?.aborted) return items;
    await store.signals.waitFor('work', Math.min(remaining, RECHECK_MS), opts.signal);
  }
  return [];
}

/** One atomic claim of up to `limit` QUEUED items, oldest first. */
export async function claimOnce(store: Store, agentId: string, limit: number): Promise<WorkItemView[]> {
  const now = store.now();
  const lease = now + store.limits.leaseMs;
  const set = sql`status = 'CLAIMED', lease_owner = ${agentId}, lease_expires_at = ${lease},
           attempts = attempts + 1, updated_at = ${now}`;
  // PostgreSQL: the pick is a MATERIALIZED CTE, run once. As `id IN (SELECT ... LIMIT n FOR
  // UPDATE SKIP LOCKED)` the planner may re-run the subquery and claim more than `limit` items
  // (seen in the work-queue test: 4 claimed for a limit of 3).
  const res =
    store.dialect === 'postgres'
      ? await sql<WorkItemsTable>`
    WITH picked AS MATERIALIZED (
      SELECT id FROM work_items WHERE status = 'QUEUED' ORDER BY created_at, id LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    UPDATE work_items SET ${set}
      FROM picked
     WHERE work_items.id = picked.id AND work_items.status = 'QUEUED'
    RETURNING work_items.*`.execute(store.db)
      : await sql<WorkItemsTable>`
    UPDATE work_items SET ${set}
     WHERE id IN (SELECT id FROM work_items WHERE status = 'QUEUED' ORDER BY created_at, id LIMIT ${limit})
       AND status = 'QUEUED'
    RETURNING *`.execute(store.db);
  return res.rows.map(toWorkItemView).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

/**
 * CLAIMED items whose lease ran out go back to QUEUED, or to FAILED once they have used
 * their attempts. Safe to run from any number of replicas at once (conditional updates).
 */
export async function expireLeases(store: Store): Promise<number> {
  const now = store.now();
  const requeued = await store.db
    .updateTable('work_items')
    .set({ status: 'QUEUED', lease_owner: null, lease_expires_at: null, updated_at: now })
    .where('status', '=', 'CLAIMED')
    .where('lease_expires_at', '<=', now)
    .where((eb) => eb('attempts', '<', eb.ref('max_attempts')))
    .executeTakeFirst();
  const exhausted = await store.db
    .selectFrom('work_items')
    .selectAll()
    .where('status', '=', 'CLAIMED')
    .where('lease_expires_at', '<=', now)
    .execute();
  for (const row of exhausted) {
    await failItem(store, row.id, {
      code: 'OUTPOST_ERR_WORK_ITEM_EXHAUSTED',
      message: `lease expired after ${row.attempts} of ${row.max_attempts} attempts (last holder ${row.lease_owner ?? '?'})`,
    });
  }
  const n = Number(requeued.numUpdatedRows);
  if (n) store.signals.notifyWork();
  return n + exhausted.length;
}

async function requireItem(store: Store, id: string): Promise<WorkItemView> {
  const item = await getWorkItem(store.db, id);
  if (!item) throw new OutpostError('UNKNOWN_WORK_ITEM', { detail: id });
  return item;
}

/** The workflow id DESIGN.md derives from an item, in SQL: `run-<runId>` for launches, `wi-<id>` otherwise. */
const derivedWorkflowId = sql<string>`CASE WHEN kind = 'LAUNCH_RUN' AND run_id IS NOT NULL THEN 'run-' || run_id ELSE 'wi-' || id END`;

/**
 * The conditional CLAIMED -> ACKED update: only the lease holder acks (a lapsed lease not yet
 * re-queued is still its own), and only with the workflow id derived from the item.
 */
function ackUpdate(db: Exec, agentId: string, id: string, workflowId: string, now: number) {
  return db
    .updateTable('work_items')
    .set({ status: 'ACKED', lease_expires_at: null, workflow_id: workflowId, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'CLAIMED')
    .where('lease_owner', '=', agentId)
    .where(sql<boolean>`${workflowId} = ${derivedWorkflowId}`)
    .executeTakeFirst();
}

/**
 * CLAIMED -> ACKED once the agent's workflow exists. Idempotent for the holder; refuses an item
 * not leased to `agentId` (NOT_OWNED: never claimed, re-queued, or another agent's) and a
 * workflow id other than the derived one (INVALID_ARGUMENT), changing nothing.
 */
export async function ackWork(store: Store, agentId: string, id: string, workflowId: string): Promise<WorkItemView> {
  const res = await ackUpdate(store.db, agentId, id, workflowId, store.now());
  const item = await requireItem(store, id);
  if (Number(res.numUpdatedRows) === 1) return item;
  if (item.leaseOwner !== agentId || item.status === 'QUEUED') {
    throw new OutpostError('WORK_ITEM_NOT_OWNED', {
      detail: `${id} is ${item.status === 'QUEUED' ? 'not claimed by any agent' : `not leased to ${agentId}`}`,
    });
  }
  const expected = workflowIdFor(item);
  if (workflowId !== expected) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `workflowId of ${id} must be ${expected}, not ${workflowId}`,
    });
  }
  // Acked already, or finished before the ack arrived: the same answer as the first ack.
  return item;
}

/**
 * Many acks in one transaction (carried by the agent's next claimWork). Same rule per item as
 * ackWork, but a refused or unknown item is skipped, not an error: the agent would only have
 * given up on it. Returns how many items moved to ACKED.
 */
export async function ackWorkBatch(
  store: Store,
  agentId: string,
  acks: ReadonlyArray<{ id: string; workflowId: string }>,
): Promise<number> {
  if (!acks.length) return 0;
  return store.transaction(async (trx) => {
    const now = store.now();
    let acked = 0;
    for (const a of acks) {
      const n = Number((await ackUpdate(trx, agentId, a.id, a.workflowId, now)).numUpdatedRows);
      acked += n;
      // Finished before its ack arrived (a fast item, or failed by its workflow): keep the workflow id.
      if (!n) {
        await trx
          .updateTable('work_items')
          .set({ workflow_id: a.workflowId })
          .where('id', '=', a.id)
          .where('workflow_id', 'is', null)
          .where('status', 'in', FINISHED)
          .where('lease_owner', '=', agentId)
          .where(sql<boolean>`${a.workflowId} = ${derivedWorkflowId}`)
          .execute();
      }
    }
    return acked;
  });
}

/**
 * Who is finishing an item through the agent API: the id of the token it authenticated with.
 * Any agent of that token (one deployment, whose Temporal activities may run on any of its
 * agents) may finish an item leased to one of them; an agent of another token may not.
 * In-process callers (the daemon, tests of the queue itself) pass none.
 */
export interface WorkCaller {
  tokenId: string;
}

const FINISHED = ['COMPLETED', 'FAILED'] as const;
const isFinished = (status: string): boolean => (FINISHED as readonly string[]).includes(status);

/** Refuses finishing `item`: never claimed (NOT_OWNED), or leased under another token (FORBIDDEN). */
async function assertMayFinish(db: Exec, item: WorkItemView, caller: WorkCaller | undefined): Promise<void> {
  if (item.status === 'QUEUED') {
    throw new OutpostError('WORK_ITEM_NOT_OWNED', { detail: `${item.id} is not claimed by any agent` });
  }
  if (!caller || (!item.leaseOwner && isFinished(item.status))) return;
  const owner = item.leaseOwner ? await agentTokenId(db, item.leaseOwner) : undefined;
  if (owner !== caller.tokenId) {
    throw new OutpostError('FORBIDDEN', { detail: `${item.id} is leased to an agent of another token` });
  }
}

/** The UPDATE guard matching assertMayFinish: claimed, and (for an agent) leased under its token. */
function finishable(caller: WorkCaller | undefined) {
  return (eb: ExpressionBuilder<Database, 'work_items'>) =>
    eb.and([
      eb('status', 'in', ['CLAIMED', 'ACKED']),
      ...(caller
        ? [
            eb(
              'lease_owner',
              'in',
              eb.selectFrom('agents').select('agents.id').where('agents.token_id', '=', caller.tokenId),
            ),
          ]
        : []),
    ]);
}

/**
 * A claimed item -> COMPLETED with a result, and its effects (runs from ticks...) in the same
 * transaction. Idempotent: a finished item is returned as it is. Refused, changing nothing, for
 * an item never claimed or leased under another token (see WorkCaller).
 */
export async function completeWork(
  store: Store,
  agentId: string,
  id: string,
  result: unknown,
  caller?: WorkCaller,
): Promise<WorkItemView> {
  const current = await requireItem(store, id);
  await assertMayFinish(store.db, current, caller);
  if (isFinished(current.status)) return current;
  const schema = ResultSchemas[current.kind] as (typeof ResultSchemas)[WorkItemKind] | undefined;
  const parsed = schema ? schema.safeParse(result) : undefined;
  if (!parsed?.success) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `result for ${current.kind}: ${parsed ? parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : 'unknown kind'}`,
    });
  }
  let notify = false;
  const item = await store.transaction(async (trx) => {
    const now = store.now();
    const res = await trx
      .updateTable('work_items')
      .set({
        status: 'COMPLETED',
        result: JSON.stringify(parsed.data),
        lease_expires_at: null,
        updated_at: now,
        // Only a workflow completes an item, and its id is derived from the item: record it even
        // when the item finished before the agent's (batched) ack arrived.
        workflow_id: current.workflowId ?? workflowIdFor(current),
      })
      .where('id', '=', id)
      .where(finishable(caller))
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) notify = await applyCompletion(trx, store, current, parsed.data, agentId);
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
  const item = await failItem(store, id, error, finishable(caller));
  if (!isFinished(item.status)) await assertMayFinish(store.db, item, caller);
  return item;
}

export async function failItem(
  store: Store,
  id: string,
  error: { code: string; message: string },
  guard: (eb: ExpressionBuilder<Database, 'work_items'>) => Expression<SqlBool> = (eb) =>
    eb('status', 'not in', FINISHED),
): Promise<WorkItemView> {
  return store.transaction(async (trx) => {
    const current = (await getWorkItem(trx, id))!;
    const res = await trx
      .updateTable('work_items')
      .set({ status: 'FAILED', error: JSON.stringify(error), lease_expires_at: null, updated_at: store.now() })
      .where('id', '=', id)
      .where(guard)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) await applyFailure(trx, store, current, error);
    return (await getWorkItem(trx, id))!;
  });
}
