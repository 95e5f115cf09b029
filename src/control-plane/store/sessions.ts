// Browser sessions and one-time sign-in codes, both server-side. The browser's cookie holds a
// random session id and the printed link a random code; only their sha256 is stored. A session
// acts as the token it was opened with, so revoking that token ends it too.
import { randomBytes } from 'node:crypto';
import type { Store } from './store.js';
import type { Exec } from './work-items.js';
import { getToken, hashToken, verifyToken, type TokenInfo } from './tokens.js';

/** How long a browser session lasts without signing in again. */
export const SESSION_TTL_MS = 12 * 3600_000;
/** How long a one-time sign-in link works (it also works only once). */
export const SIGNIN_CODE_TTL_MS = 10 * 60_000;

const SESSION_RE = /^ops_[A-Za-z0-9_-]{43}$/;
const CODE_RE = /^opc_[A-Za-z0-9_-]{43}$/;

const secret = (prefix: string): string => prefix + randomBytes(32).toString('base64url');

/**
 * Opens a session for a live user token; returns the cookie value (shown to the browser only).
 * `replacing`, the session the browser held until now, ends in the same transaction: both
 * happen or neither does, so a sign-in never leaves the old session alive behind the new one.
 */
export async function createSession(
  store: Store,
  tokenId: string,
  ttlMs = SESSION_TTL_MS,
  replacing?: string,
): Promise<string> {
  const id = secret('ops_');
  const now = store.now();
  await store.transaction(async (trx) => {
    if (replacing !== undefined && SESSION_RE.test(replacing)) await revoke(trx, hashToken(replacing), now);
    await trx
      .insertInto('sessions')
      .values({ id_hash: hashToken(id), token_id: tokenId, created_at: now, expires_at: now + ttlMs, revoked_at: null })
      .execute();
  });
  return id;
}

/** The live user token behind a session id, or undefined (unknown, expired, signed out or revoked). */
export async function sessionPrincipal(store: Store, sessionId: string): Promise<TokenInfo | undefined> {
  if (!SESSION_RE.test(sessionId)) return undefined;
  const row = await store.db
    .selectFrom('sessions')
    .selectAll()
    .where('id_hash', '=', hashToken(sessionId))
    .executeTakeFirst();
  if (!row || row.revoked_at !== null || Number(row.expires_at) <= store.now()) return undefined;
  const token = await getToken(store, row.token_id);
  if (!token || token.revokedAt !== null || token.kind !== 'user') return undefined;
  return token;
}

/** Ends a session (sign-out); unknown ids are ignored. */
export async function revokeSession(store: Store, sessionId: string): Promise<void> {
  if (SESSION_RE.test(sessionId)) await revoke(store.db, hashToken(sessionId), store.now());
}

async function revoke(exec: Exec, idHash: string, now: number): Promise<void> {
  await exec
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('id_hash', '=', idHash)
    .where('revoked_at', 'is', null)
    .execute();
}

/** A one-time sign-in code for `tokenId`, valid for `ttlMs`. */
export async function createSigninCode(
  store: Store,
  tokenId: string,
  ttlMs = SIGNIN_CODE_TTL_MS,
): Promise<{ code: string; expiresAt: number }> {
  const code = secret('opc_');
  const now = store.now();
  await store.db
    .insertInto('signin_codes')
    .values({ code_hash: hashToken(code), token_id: tokenId, created_at: now, expires_at: now + ttlMs, used_at: null })
    .execute();
  return { code, expiresAt: now + ttlMs };
}

/**
 * Uses a sign-in code: the live user token it was made for, or undefined when the code is
 * unknown, expired or already used. The conditional update makes two redemptions race safely.
 */
export async function redeemSigninCode(store: Store, code: string): Promise<TokenInfo | undefined> {
  if (!CODE_RE.test(code)) return undefined;
  const hash = hashToken(code);
  const now = store.now();
  const res = await store.db
    .updateTable('signin_codes')
    .set({ used_at: now })
    .where('code_hash', '=', hash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) return undefined;
  const row = await store.db
    .selectFrom('signin_codes')
    .select('token_id')
    .where('code_hash', '=', hash)
    .executeTakeFirst();
  const token = row ? await getToken(store, row.token_id) : undefined;
  if (!token || token.revokedAt !== null || token.kind !== 'user') return undefined;
  return token;
}

/** Deletes sessions and codes that can no longer be used; returns how many rows went. */
export async function pruneSessions(store: Store, now = store.now()): Promise<number> {
  const a = await store.db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('revoked_at', 'is not', null)]))
    .executeTakeFirst();
  const b = await store.db
    .deleteFrom('signin_codes')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('used_at', 'is not', null)]))
    .executeTakeFirst();
  return Number(a.numDeletedRows) + Number(b.numDeletedRows);
}

/** What the web UI needs from the store; see web/index.ts. */
export interface WebSessions {
  /**
   * Opens a session for a live user token; its id, or undefined (unknown, revoked, agent token).
   * Throws RATE_LIMITED past the token's request rate. `replacing` (the session the browser held)
   * ends with the opening, in one transaction: if either fails, both fail (createSession).
   */
  openWithToken(token: string, replacing?: string): Promise<string | undefined>;
  /** Opens a session with a one-time sign-in code; its id, or undefined (unknown, used, expired). As openWithToken. */
  openWithCode(code: string, replacing?: string): Promise<string | undefined>;
  principal(sessionId: string): Promise<TokenInfo | undefined>;
  close(sessionId: string): Promise<void>;
}

/**
 * `budget` is the user API's per-token request rate (http/request-budget.ts): a sign-in with a
 * token takes a unit of that token's, as a /graphql request does, and throws RATE_LIMITED past
 * it. Without it one token opened sessions (a row each, kept 12 h) as fast as the server answered.
 * A sign-in code needs none: each was made by a mutation, which took its unit.
 */
export function storeSessions(store: Store, budget?: { take(tokenId: string): void }): WebSessions {
  return {
    async openWithToken(token, replacing) {
      const info = await verifyToken(store, token);
      if (info?.kind !== 'user') return undefined;
      budget?.take(info.id);
      return createSession(store, info.id, SESSION_TTL_MS, replacing);
    },
    async openWithCode(code, replacing) {
      const info = await redeemSigninCode(store, code);
      return info ? createSession(store, info.id, SESSION_TTL_MS, replacing) : undefined;
    },
    principal: (id) => sessionPrincipal(store, id),
    close: (id) => revokeSession(store, id),
  };
}
