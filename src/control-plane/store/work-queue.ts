// The work queue's rows: atomic claims with leases, idempotent acks, the guards on who may
// finish an item, and the single-table moves (complete, fail, re-queue) that
// services/work-service.ts composes with their effects on runs and ticks.
// Claims are one atomic UPDATE ... RETURNING (each dialect's claimQueued: SQLite has a single
// writer, PostgreSQL skips locked rows), so two agents never hold the same item. Only a claimed
// item can be finished, and through the agent API only under the token its lease holder is bound to.
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { OutpostError } from '../../shared/errors.js';
import { workflowIdFor } from '../../shared/workflow-contract.js';
import { agentTokenId } from './agents.js';
import type { Database, WorkItemsTable } from './schema.js';
import type { Store } from './store.js';
import { getWorkItem, toWorkItemView, type Exec, type WorkItemView } from './work-items.js';

/** One atomic claim of up to `limit` QUEUED items, oldest first. */
export async function claimOnce(
  store: Store,
  agentId: string,
  limit: number,
  exec: Exec = store.db,
): Promise<WorkItemView[]> {
  const now = store.now();
  const lease = now + store.limits.leaseMs;
  const set = sql`status = 'CLAIMED', lease_owner = ${agentId}, lease_expires_at = ${lease},
           attempts = attempts + 1, updated_at = ${now}`;
  const rows = await store.dialect.claimQueued(exec, set, limit, now);
  return rows.map(toWorkItemView).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
}

export async function requireItem(store: Store, id: string): Promise<WorkItemView> {
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
  /** A transaction to run in (the claim's own); else one of its own. */
  within?: Exec,
): Promise<number> {
  if (!acks.length) return 0;
  const inTrx = (fn: (trx: Exec) => Promise<number>) => (within ? fn(within) : store.transaction(fn));
  return inTrx(async (trx) => {
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

export const FINISHED = ['COMPLETED', 'FAILED'] as const;
export const isFinished = (status: string): boolean => (FINISHED as readonly string[]).includes(status);

/** Refuses finishing `item`: never claimed (NOT_OWNED), or leased under another token (FORBIDDEN). */
export async function assertMayFinish(db: Exec, item: WorkItemView, caller: WorkCaller | undefined): Promise<void> {
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
export function finishable(caller: WorkCaller | undefined) {
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

/** Whether any CLAIMED item's lease ran out by `now` (one indexed read; most claim passes find none). */
export async function hasExpiredLeases(exec: Exec, now: number): Promise<boolean> {
  const row = await exec
    .selectFrom('work_items')
    .select('id')
    .where('status', '=', 'CLAIMED')
    .where('lease_expires_at', '<=', now)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * CLAIMED items whose lease ran out and that have attempts left go back to QUEUED (conditional,
 * so any number of replicas may run it). Returns how many did.
 */
export async function requeueExpiredLeases(store: Store, now: number): Promise<number> {
  const res = await store.db
    .updateTable('work_items')
    .set({ status: 'QUEUED', lease_owner: null, lease_expires_at: null, updated_at: now })
    .where('status', '=', 'CLAIMED')
    .where('lease_expires_at', '<=', now)
    .where((eb) => eb('attempts', '<', eb.ref('max_attempts')))
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/**
 * Undoes one claim of `items` (a claim pass's answer, all under one lease) whose client went
 * away before it could be answered: back to QUEUED, the attempt not counted. Only rows still
 * under that very lease move. Returns how many did.
 */
export async function releaseClaim(store: Store, agentId: string, items: readonly WorkItemView[]): Promise<number> {
  const lease = items[0]?.leaseExpiresAt;
  if (lease === undefined || lease === null) return 0;
  const res = await store.db
    .updateTable('work_items')
    .set({
      status: 'QUEUED',
      lease_owner: null,
      lease_expires_at: null,
      attempts: sql<number>`attempts - 1`,
      updated_at: store.now(),
    })
    .where(
      'id',
      'in',
      items.map((i) => i.id),
    )
    .where('status', '=', 'CLAIMED')
    .where('lease_owner', '=', agentId)
    .where('lease_expires_at', '=', lease)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** CLAIMED items whose lease ran out with no attempt left (what requeueExpiredLeases left). */
export async function listExhaustedLeases(store: Store, now: number): Promise<WorkItemsTable[]> {
  return store.db
    .selectFrom('work_items')
    .selectAll()
    .where('status', '=', 'CLAIMED')
    .where('lease_expires_at', '<=', now)
    .execute();
}

/** `current` -> COMPLETED with `result` where `guard` holds. Returns whether it moved. */
export async function markCompleted(
  exec: Exec,
  store: Store,
  current: WorkItemView,
  result: unknown,
  guard: (eb: ExpressionBuilder<Database, 'work_items'>) => Expression<SqlBool>,
): Promise<boolean> {
  const res = await exec
    .updateTable('work_items')
    .set({
      status: 'COMPLETED',
      result: JSON.stringify(result),
      lease_expires_at: null,
      updated_at: store.now(),
      // Only a workflow completes an item, and its id is derived from the item: record it even
      // when the item finished before the agent's (batched) ack arrived.
      workflow_id: current.workflowId ?? workflowIdFor(current),
    })
    .where('id', '=', current.id)
    .where(guard)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Item `id` -> FAILED with a coded error where `guard` holds (default: not finished). Returns whether it moved. */
export async function markFailed(
  exec: Exec,
  store: Store,
  id: string,
  error: { code: string; message: string },
  guard: (eb: ExpressionBuilder<Database, 'work_items'>) => Expression<SqlBool> = (eb) =>
    eb('status', 'not in', FINISHED),
): Promise<boolean> {
  const res = await exec
    .updateTable('work_items')
    .set({ status: 'FAILED', error: JSON.stringify(error), lease_expires_at: null, updated_at: store.now() })
    .where('id', '=', id)
    .where(guard)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** ACKED launches of still-QUEUED runs not touched since `before` (their workflow never started). */
export async function listStaleAckedLaunches(store: Store, before: number) {
  return store.db
    .selectFrom('work_items')
    .innerJoin('runs', 'runs.id', 'work_items.run_id')
    .select([
      'work_items.id',
      'work_items.run_id',
      'work_items.attempts',
      'work_items.max_attempts',
      'work_items.lease_owner',
      'work_items.workflow_id',
      'work_items.updated_at',
    ])
    .where('work_items.kind', '=', 'LAUNCH_RUN')
    .where('work_items.status', '=', 'ACKED')
    .where('work_items.updated_at', '<=', before)
    .where('runs.status', '=', 'QUEUED')
    .execute();
}

/** An ACKED item unchanged since `updatedAt` -> QUEUED, for any agent to claim. Returns whether it moved. */
export async function requeueAcked(exec: Exec, id: string, updatedAt: number, now: number): Promise<boolean> {
  const res = await exec
    .updateTable('work_items')
    .set({ status: 'QUEUED', lease_owner: null, lease_expires_at: null, workflow_id: null, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'ACKED')
    .where('updated_at', '=', updatedAt)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
