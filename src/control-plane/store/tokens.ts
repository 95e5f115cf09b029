// API tokens: `opu_` (user) / `opa_` (agent) + base64url of 32 random bytes. Only the SHA-256
// of a token is stored; lookups go by hash and the match is re-checked in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { OutpostError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { checkTokenName } from '../core/input-rules.js';
import { isUserRole, type UserRole } from '../core/roles.js';
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
  /** The role of a user token; null for agent tokens. */
  role: UserRole | null;
  /** The token that created this one, when known. */
  createdBy: string | null;
  /** Agent tokens: the agent token this one succeeds (it may take over that token's agents). */
  replaces: string | null;
}

export interface CreateTokenOptions {
  /** Role of a user token. Default ADMIN (operators' own tokens); the user API defaults to VIEWER. */
  role?: UserRole;
  /** Id of the token that created this one. */
  createdBy?: string;
  /**
   * Agent tokens: id of the agent token this one succeeds. The new token may then register the
   * agent ids bound to that one (rotating a running agent's token); no other token ever may.
   */
  replaces?: string;
}

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** Creates a token; the plaintext is returned here and nowhere else. */
export async function createToken(
  store: Store,
  kind: TokenKind,
  name: string,
  opts: CreateTokenOptions = {},
): Promise<{ id: string; token: string; info: TokenInfo }> {
  checkTokenName(name);
  if (kind === 'agent' && opts.role) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: 'agent tokens carry no role; omit `role`' });
  }
  const role = kind === 'user' ? (opts.role ?? 'ADMIN') : null;
  const createdBy = opts.createdBy ?? null;
  const replaces = opts.replaces ?? null;
  if (replaces !== null) await checkReplaced(store, kind, replaces);
  const token = PREFIX[kind] + randomBytes(32).toString('base64url');
  const now = store.now();
  const id = newId('tok', now);
  await store.db
    .insertInto('tokens')
    .values({
      id,
      kind,
      name,
      hash: hashToken(token),
      created_at: now,
      revoked_at: null,
      last_used_at: null,
      role,
      created_by: createdBy,
      replaces,
    })
    .execute();
  return {
    id,
    token,
    info: { id, kind, name, createdAt: now, revokedAt: null, lastUsedAt: null, role, createdBy, replaces },
  };
}

/** A successor is an agent token of an existing agent token (revoked or not). */
async function checkReplaced(store: Store, kind: TokenKind, replaces: string): Promise<void> {
  if (kind !== 'agent') {
    throw new OutpostError('INVALID_ARGUMENT', { detail: 'only agent tokens replace another; omit `replaces`' });
  }
  const old = await store.db.selectFrom('tokens').select('kind').where('id', '=', replaces).executeTakeFirst();
  if (!old) throw new OutpostError('UNKNOWN_TOKEN', { detail: `replaces ${replaces}` });
  if (old.kind !== 'agent') {
    throw new OutpostError('INVALID_ARGUMENT', { detail: `replaces ${replaces}: not an agent token` });
  }
}

/** The id of the agent token `presented`, revoked or not (agentTokenFile's successor names it). */
export async function agentTokenIdOf(store: Store, presented: string): Promise<string | undefined> {
  const row = await store.db
    .selectFrom('tokens')
    .select('id')
    .where('hash', '=', hashToken(presented))
    .where('kind', '=', 'agent')
    .executeTakeFirst();
  return row?.id;
}

export async function getToken(store: Store, id: string): Promise<TokenInfo | undefined> {
  const row = await store.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toInfo(row) : undefined;
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

/** Revokes a token and every browser session opened with it; revoking twice is harmless. */
export async function revokeToken(store: Store, id: string): Promise<TokenInfo> {
  const row = await store.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new OutpostError('UNKNOWN_TOKEN', { detail: id });
  if (row.revoked_at === null) {
    const now = store.now();
    row.revoked_at = now;
    await store.transaction(async (trx) => {
      await trx.updateTable('tokens').set({ revoked_at: now }).where('id', '=', id).execute();
      await trx
        .updateTable('sessions')
        .set({ revoked_at: now })
        .where('token_id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    });
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
  role: string | null;
  created_by: string | null;
  replaces: string | null;
}): TokenInfo {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    // A user token with no recognizable role gets the least one, never more.
    role: row.kind === 'user' ? (isUserRole(row.role) ? row.role : 'VIEWER') : null,
    createdBy: row.created_by,
    replaces: row.replaces,
  };
}
