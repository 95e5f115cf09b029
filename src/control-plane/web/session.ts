// Browser sessions: sign-in by user token or one-time code, an httpOnly cookie holding an
// opaque session id (the session itself lives in the store, so replicas share it and sign-out
// or revoking the token ends it), and double-submit CSRF protection for cookie-authenticated writes.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { SESSION_TTL_MS } from '../store/sessions.js';

/** httpOnly cookie holding the session id; never readable by page scripts, never the token. */
export const SESSION_COOKIE = 'outpost_session';
/** Readable cookie holding the CSRF secret; the page echoes it in {@link CSRF_HEADER}. */
export const CSRF_COOKIE = 'outpost_csrf';
export const CSRF_HEADER = 'x-outpost-csrf';
/** Cookie lifetime, the same as the server-side session's. */
export const SESSION_MAX_AGE_S = SESSION_TTL_MS / 1000;

export interface CookieAuth {
  /** The session id from the session cookie, if any. Still to be looked up by the caller. */
  sessionId?: string;
  /**
   * True when the request may act with the cookie's authority: a safe method (GET/HEAD,
   * which GraphQL serves as read-only), or a write that carries the CSRF header matching the
   * CSRF cookie and, when the browser sends one, an Origin equal to the request's own.
   */
  csrfOk: boolean;
}

export function parseCookies(header: string | null): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    try {
      out.set(name, decodeURIComponent(raw));
    } catch {
      out.set(name, raw);
    }
  }
  return out;
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** The request's own origin as the browser sees it (honours Host, so proxies that keep Host work). */
export function ownOrigin(request: Request): string {
  const url = new URL(request.url);
  const host = request.headers.get('host') ?? url.host;
  return `${url.protocol}//${host}`;
}

/** Same-origin check: a missing Origin (non-browser clients, old browsers on GET) passes. */
export function originOk(request: Request): boolean {
  const origin = request.headers.get('origin');
  if (origin === null) {
    // Fetch metadata, when present, is as good as Origin.
    const site = request.headers.get('sec-fetch-site');
    return site === null || site === 'same-origin' || site === 'none';
  }
  return origin === ownOrigin(request);
}

/** What the control plane's /graphql needs to accept a browser session. */
export function cookieAuth(request: Request): CookieAuth {
  const cookies = parseCookies(request.headers.get('cookie'));
  const sessionId = cookies.get(SESSION_COOKIE) || undefined;
  const method = request.method.toUpperCase();
  if (method === 'GET' || method === 'HEAD') return { sessionId, csrfOk: originOk(request) };
  const secret = cookies.get(CSRF_COOKIE);
  const header = request.headers.get(CSRF_HEADER);
  const csrfOk = !!secret && !!header && safeEqual(secret, header) && originOk(request);
  return { sessionId, csrfOk };
}

interface CookieOptions {
  httpOnly: boolean;
  secure: boolean;
  maxAge: number;
}

function serializeCookie(name: string, value: string, o: CookieOptions): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'SameSite=Strict', `Max-Age=${o.maxAge}`];
  if (o.httpOnly) parts.push('HttpOnly');
  if (o.secure) parts.push('Secure');
  return parts.join('; ');
}

/** Set-Cookie values that carry the session id `sessionId`. */
export function sessionCookies(sessionId: string, secure: boolean): string[] {
  const csrf = randomBytes(24).toString('base64url');
  return [
    serializeCookie(SESSION_COOKIE, sessionId, { httpOnly: true, secure, maxAge: SESSION_MAX_AGE_S }),
    serializeCookie(CSRF_COOKIE, csrf, { httpOnly: false, secure, maxAge: SESSION_MAX_AGE_S }),
  ];
}

/** Set-Cookie values that end the session. */
export function clearedCookies(secure: boolean): string[] {
  return [
    serializeCookie(SESSION_COOKIE, '', { httpOnly: true, secure, maxAge: 0 }),
    serializeCookie(CSRF_COOKIE, '', { httpOnly: false, secure, maxAge: 0 }),
  ];
}
