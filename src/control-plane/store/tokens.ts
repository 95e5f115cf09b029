// API tokens: `opu_` (user) / `opa_` (agent) + base64url of 32 random bytes. Only the SHA-256
// of a token is stored; lookups go by hash and the match is re-checked in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { OutpostError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { checkTokenName } from '../core/input-rules.js';
import type { Store } from './store.js';

export type TokenKind = 'user' | 'agent';

const PREFIX: Record<TokenKind, string> = { user: 'opu_', agent: 'opa_' };

export interface TokenInfo {
  id: string;
  kind: TokenKind;
  name: string;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** Creates a token; the plaintext is returned here and nowhere else. */
export async function createToken(
  store: Store,
  kind: TokenKind,
  name: string,
): Promise<{ id: string; token: string; info: TokenInfo }> {
  checkTokenName(name);
  const token = PREFIX[kind] + randomBytes(32).toString('base64url');
  const now = store.now();
  const id = newId('tok', now);
  await store.db
    .insertInto('tokens')
    .values({ id, kind, name, hash: hashToken(token), created_at: now, revoked_at: null, last_used_at: null })
    .execute();
  return { id, token, info: { id, kind, name, createdAt: now, revokedAt: null, lastUsedAt: null } };
}

/** The live token matching `presented`, or undefined (unknown, malformed or revoked). */
export async function verifyToken(store: Store, presented: string): Promise<TokenInfo | undefined> {
  if (!/^op[ua]_[A-Za-z0-9_-]{43}$/.test(presented)) return undefined;
  const hash = hashToken(presented);
  const row = await store.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
  if (!row || row.revoked_at !== null) return undefined;
  // The index lookup found it; compare the digests in constant time all the same.
  if (!timingSafeEqual(Buffer.from(row.hash, 'hex'), Buffer.from(hash, 'hex'))) return undefined;
  const now = store.now();
  // Recording use is best-effort and coarse (once a minute) to keep reads cheap.
  if (row.last_used_at === null || now - row.last_used_at > 60_000) {
    await store.db.updateTable('tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
  }
  return toInfo(row);
}

export async function listTokens(store: Store): Promise<TokenInfo[]> {
  const rows = await store.db.selectFrom('tokens').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(toInfo);
}

export async function hasLiveToken(store: Store, kind: TokenKind): Promise<boolean> {
  const row = await store.db
    .selectFrom('tokens')
    .select('id')
    .where('kind', '=', kind)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row !== undefined;
}

/** Revokes a token; revoking twice is harmless. */
export async function revokeToken(store: Store, id: string): Promise<TokenInfo> {
  const row = await store.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new OutpostError('UNKNOWN_TOKEN', { detail: id });
  if (row.revoked_at === null) {
    row.revoked_at = store.now();
    await store.db.updateTable('tokens').set({ revoked_at: row.revoked_at }).where('id', '=', id).execute();
  }
  return toInfo(row);
}

function toInfo(row: {
  id: string;
  kind: TokenKind;
  name: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}): TokenInfo {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}
