// The audit log: one row per user-API mutation and token change, refusals included (when, which
// token, what, on what, and how it ended). Read by ADMINs; pruned by the daemon after a retention.
import { newId } from '../../shared/ids.js';
import type { Store } from './store.js';
import type { Exec } from './work-items.js';

export interface AuditEntry {
  id: string;
  at: number;
  actorTokenId: string | null;
  actor: string;
  action: string;
  target: string | null;
  /** `ok`, or the error code (`OUTPOST_ERR_…`) of a refusal or failure. */
  outcome: string;
}

export interface AuditFilter {
  action?: string | null;
  actorTokenId?: string | null;
  target?: string | null;
  /** `ok`, or `refused` for every outcome other than ok, or an exact error code. */
  outcome?: string | null;
}

/** Default retention of audit rows: 90 days. */
export const DEFAULT_AUDIT_RETENTION_MS = 90 * 86_400_000;

const MAX_TARGET = 512;

/**
 * A refused input is audited as given, so it may hold NUL (which PostgreSQL text refuses) or
 * bidi controls (which would reorder the audit page): those are written as `\u{…}` escapes.
 */
function printable(s: string): string {
  return s.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

export async function recordAudit(
  store: Store,
  e: Omit<AuditEntry, 'id' | 'at'>,
  /** A transaction the row belongs to (it is written, or not, with the change it records). */
  db: Exec = store.db,
): Promise<void> {
  const at = store.now();
  await db
    .insertInto('audit_log')
    .values({
      id: newId('aud', at),
      at,
      actor_token_id: e.actorTokenId,
      actor: e.actor,
      action: e.action,
      target: e.target === null ? null : printable(e.target.slice(0, MAX_TARGET)),
      outcome: e.outcome,
    })
    .execute();
}

/** Newest first; `after` is the id of the last entry of the previous page. */
export async function listAudit(
  store: Store,
  filter: AuditFilter,
  first: number,
  after?: string | null,
): Promise<{ entries: AuditEntry[]; hasNextPage: boolean }> {
  let q = store.db.selectFrom('audit_log').selectAll();
  if (filter.action) q = q.where('action', '=', filter.action);
  if (filter.actorTokenId) q = q.where('actor_token_id', '=', filter.actorTokenId);
  if (filter.target) q = q.where('target', '=', filter.target);
  if (filter.outcome === 'refused') q = q.where('outcome', '!=', 'ok');
  else if (filter.outcome) q = q.where('outcome', '=', filter.outcome);
  if (after) q = q.where('id', '<', after);
  const rows = await q
    .orderBy('id', 'desc')
    .limit(first + 1)
    .execute();
  const entries = rows.slice(0, first).map((r) => ({
    id: r.id,
    at: Number(r.at),
    actorTokenId: r.actor_token_id,
    actor: r.actor,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
  }));
  return { entries, hasNextPage: rows.length > first };
}

/** Deletes rows older than `retentionMs`; returns how many. */
export async function pruneAudit(store: Store, retentionMs: number, now = store.now()): Promise<number> {
  const res = await store.db
    .deleteFrom('audit_log')
    .where('at', '<', now - retentionMs)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
