// Work-item rows as the APIs see them, and the insert every producer uses (deduped by key).
// Producers call enqueue inside their transaction and store.signals.notifyWork() after commit.
import type { Kysely } from 'kysely';
import { errorCode } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { type WorkItemKind, type WorkItemPayload, type WorkItemStatus } from '../../shared/work-items.js';
import type { Database, WorkItemsTable } from './schema.js';
import type { Store } from './store.js';

export type Exec = Kysely<Database>;

export interface WorkItemView {
  id: string;
  kind: WorkItemKind;
  payload: Record<string, unknown>;
  status: WorkItemStatus;
  attempts: number;
  maxAttempts: number;
  runId: string | null;
  dedupeKey: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  workflowId: string | null;
  result: unknown;
  error: { code: string; message: string } | null;
  createdAt: number;
  updatedAt: number;
}

export function toWorkItemView(r: WorkItemsTable): WorkItemView {
  return {
    id: r.id,
    kind: r.kind as WorkItemKind,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    status: r.status,
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    runId: r.run_id,
    dedupeKey: r.dedupe_key,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at === null ? null : Number(r.lease_expires_at),
    workflowId: r.workflow_id,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    error: r.error === null ? null : (JSON.parse(r.error) as { code: string; message: string }),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export interface EnqueueInput<K extends WorkItemKind> {
  kind: K;
  payload: WorkItemPayload<K>;
  runId?: string;
  /** Unique across all items ever enqueued; a second enqueue with the same key returns the first item. */
  dedupeKey?: string;
  maxAttempts?: number;
  /** No agent claims it from this time on (WorkItemsTable.claim_until). */
  claimUntil?: number;
}

/** Inserts a QUEUED item, or returns the existing item with the same dedupe key. */
export async function enqueue<K extends WorkItemKind>(
  exec: Exec,
  store: Store,
  input: EnqueueInput<K>,
): Promise<{ item: WorkItemView; created: boolean }> {
  const now = store.now();
  const row: WorkItemsTable = {
    id: newId('wi', now),
    kind: input.kind,
    payload: JSON.stringify(input.payload),
    status: 'QUEUED',
    run_id: input.runId ?? null,
    dedupe_key: input.dedupeKey ?? null,
    lease_owner: null,
    lease_expires_at: null,
    attempts: 0,
    max_attempts: input.maxAttempts ?? store.limits.maxAttempts,
    workflow_id: null,
    result: null,
    error: null,
    claim_until: input.claimUntil ?? null,
    created_at: now,
    updated_at: now,
  };
  const inserted = await exec
    .insertInto('work_items')
    .values(row)
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { item: toWorkItemView(inserted), created: true };
  const existing = await exec
    .selectFrom('work_items')
    .selectAll()
    .where('dedupe_key', '=', input.dedupeKey ?? '')
    .executeTakeFirstOrThrow();
  return { item: toWorkItemView(existing), created: false };
}

/** enqueue in its own statement, then wake pollers. */
export async function enqueueWork<K extends WorkItemKind>(
  store: Store,
  input: EnqueueInput<K>,
): Promise<{ item: WorkItemView; created: boolean }> {
  const r = await enqueue(store.db, store, input);
  if (r.created) store.signals.notifyWork();
  return r;
}

export async function getWorkItem(exec: Exec, id: string): Promise<WorkItemView | undefined> {
  const r = await exec.selectFrom('work_items').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toWorkItemView(r) : undefined;
}

export interface WorkItemFilter {
  status?: WorkItemStatus | null;
  kind?: WorkItemKind | null;
  runId?: string | null;
}

/** Newest first, for operators. */
export async function listWorkItems(store: Store, filter: WorkItemFilter, first: number): Promise<WorkItemView[]> {
  let q = store.db.selectFrom('work_items').selectAll();
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.kind) q = q.where('kind', '=', filter.kind);
  if (filter.runId) q = q.where('run_id', '=', filter.runId);
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(first).execute();
  return rows.map(toWorkItemView);
}

export interface RunSelection {
  /** The asset keys it materializes (a launch's, or a schedule's or sensor's run request's); null: the whole job. */
  assetSelection: string[] | null;
  /** The ops it runs; null: every op. */
  opSelection: string[] | null;
}

/** What of its job a run executes, from its LAUNCH_RUN item (one read for both selections). */
export async function launchSelectionOf(db: Exec, runId: string): Promise<RunSelection> {
  const row = await db
    .selectFrom('work_items')
    .select('payload')
    .where('run_id', '=', runId)
    .where('kind', '=', 'LAUNCH_RUN')
    .orderBy('created_at')
    .limit(1)
    .executeTakeFirst();
  const payload = row ? (JSON.parse(row.payload) as Record<string, unknown>) : {};
  const names = (v: unknown) => (Array.isArray(v) ? v.filter((k): k is string => typeof k === 'string') : null);
  return { assetSelection: names(payload.assetSelection), opSelection: names(payload.opSelection) };
}

/** Why a run never launched: the error of its FAILED LAUNCH_RUN item, or null. */
export async function launchErrorOf(db: Exec, runId: string): Promise<{ code: string; message: string } | null> {
  const row = await db
    .selectFrom('work_items')
    .select('error')
    .where('run_id', '=', runId)
    .where('kind', '=', 'LAUNCH_RUN')
    .where('status', '=', 'FAILED')
    .executeTakeFirst();
  return row?.error ? (JSON.parse(row.error) as { code: string; message: string }) : null;
}

/**
 * A QUEUED (never claimed) LAUNCH_RUN item of `runId` -> FAILED with RUN_CANCELED. Returns
 * whether one was; false once an agent claimed it (then only the agent can stop the run).
 */
export async function cancelQueuedLaunch(exec: Exec, store: Store, runId: string): Promise<boolean> {
  const res = await exec
    .updateTable('work_items')
    .set({
      status: 'FAILED',
      error: JSON.stringify({ code: errorCode('RUN_CANCELED'), message: 'run canceled before an agent claimed it' }),
      updated_at: store.now(),
    })
    .where('run_id', '=', runId)
    .where('kind', '=', 'LAUNCH_RUN')
    .where('status', '=', 'QUEUED')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/**
 * A QUEUED (never claimed) item -> FAILED with `code`: its asker stopped waiting, so no agent
 * should start on it later. Returns whether it was still QUEUED (a claimed one is left to its agent).
 */
export async function abandonQueued(
  exec: Exec,
  store: Store,
  id: string,
  error: { code: string; message: string },
): Promise<boolean> {
  const res = await exec
    .updateTable('work_items')
    .set({ status: 'FAILED', error: JSON.stringify(error), updated_at: store.now() })
    .where('id', '=', id)
    .where('status', '=', 'QUEUED')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
