// The web UI, mounted by the control plane's HTTP server as one fetch-style handler:
// `createWebHandler(deps)(request)` answers the paths it owns (pages, assets, sign-in and
// sign-out, GraphiQL's page) and returns undefined for the rest. A browser holds an opaque
// server-side session (store/sessions.ts), never a token; `cookieAuth(request)` lets /graphql
// accept it (see session.ts for the CSRF rules).
import { OutpostError, isOutpostError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { errorResponse } from '../http/handler.js';
import { retryAfter } from '../http/request-budget.js';
import type { UserRole } from '../core/roles.js';
import type { WebSessions } from '../store/sessions.js';
import type { TokenInfo } from '../store/tokens.js';
import { graphiqlResponse } from './graphiql-page.js';
import { appShell, signInPage } from './html-pages.js';
import { safeNext } from './safe-next.js';
import { securityHeaders } from './security-headers.js';
import { loadAssets, serveAsset, ASSETS_DIR } from './static-assets.js';
import {
  clearedCookies,
  cookieAuth,
  CSRF_COOKIE,
  originOk,
  parseCookies,
  SESSION_COOKIE,
  sessionCookies,
} from './session.js';

export { cookieAuth, CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, type CookieAuth } from './session.js';

export interface WebDeps {
  /** Server-side sessions (store/sessions.ts `storeSessions(store)`). */
  sessions: WebSessions;
  /** Base URL of the Temporal Web UI, e.g. `http://127.0.0.1:8233`. */
  temporalUiUrl: string;
  /** Temporal namespace the agents use, e.g. `default`. */
  temporalNamespace: string;
  logger: Logger;
  /**
   * Mark cookies `Secure`. Default: when the request URL is https. Set it to true behind a
   * TLS-terminating proxy that forwards plain http.
   */
  secureCookies?: boolean;
  /** Serve assets from this directory instead of ./assets (tests). */
  assetsDir?: string;
}

export type WebHandler = (request: Request) => Promise<Response | undefined>;

/** Client-side routes: each serves the app shell, and app.js renders the page. */
const APP_ROUTES = [
  /^\/runs\/?$/,
  /^\/runs\/[^/]+$/,
  /^\/locations(\/.*)?$/,
  /^\/automation\/?$/,
  /^\/agents\/?$/,
  /^\/audit\/?$/,
];

const MAX_SIGNIN_BODY = 16 * 1024;

function html(body: string, status = 200, extra?: Headers): Response {
  const headers = securityHeaders();
  headers.set('content-type', 'text/html; charset=utf-8');
  headers.set('cache-control', 'no-store');
  extra?.forEach((v, k) => headers.append(k, v));
  return new Response(body, { status, headers });
}

function redirect(location: string, cookies: string[] = []): Response {
  const headers = securityHeaders();
  headers.set('location', location);
  headers.set('cache-control', 'no-store');
  for (const c of cookies) headers.append('set-cookie', c);
  return new Response(null, { status: 303, headers });
}

function json(body: unknown, status: number, cookies: string[] = []): Response {
  const headers = securityHeaders();
  headers.set('content-type', 'application/json; charset=utf-8');
  headers.set('cache-control', 'no-store');
  for (const c of cookies) headers.append('set-cookie', c);
  return new Response(JSON.stringify(body), { status, headers });
}

/** A refusal in the one error shape of every API (`{ errors: [{ message, extensions }] }`). */
function refused(e: OutpostError, extra: Record<string, string> = {}): Response {
  const headers = Object.fromEntries(securityHeaders());
  return errorResponse(e, { ...headers, 'cache-control': 'no-store', ...extra });
}

interface SignInForm {
  /** A user token pasted into the form, or */
  token: string;
  /** a one-time code from a printed sign-in link. */
  code: string;
  next: string;
  wantsJson: boolean;
}

async function readSignInForm(request: Request): Promise<SignInForm | undefined> {
  const length = Number(request.headers.get('content-length') ?? '0');
  if (length > MAX_SIGNIN_BODY) return undefined;
  const text = await request.text();
  if (text.length > MAX_SIGNIN_BODY) return undefined;
  const type = request.headers.get('content-type') ?? '';
  if (type.includes('application/json')) {
    try {
      const body = JSON.parse(text) as { token?: unknown; code?: unknown; next?: unknown };
      return {
        token: typeof body.token === 'string' ? body.token.trim() : '',
        code: typeof body.code === 'string' ? body.code.trim() : '',
        next: safeNext(body.next),
        wantsJson: true,
      };
    } catch {
      return undefined;
    }
  }
  const form = new URLSearchParams(text);
  return {
    token: (form.get('token') ?? '').trim(),
    code: (form.get('code') ?? '').trim(),
    next: safeNext(form.get('next')),
    wantsJson: false,
  };
}

export function createWebHandler(deps: WebDeps): WebHandler {
  const assets = loadAssets(deps.assetsDir ?? ASSETS_DIR);
  const shellOptions = {
    temporalUiUrl: deps.temporalUiUrl.replace(/\/+$/, ''),
    temporalNamespace: deps.temporalNamespace,
  };
  const shells = new Map<UserRole, string>();
  const shellFor = (role: UserRole): string => {
    let page = shells.get(role);
    if (!page) shells.set(role, (page = appShell({ ...shellOptions, role })));
    return page;
  };
  const log = deps.logger.child({ component: 'web' });
  const isSecure = (request: Request): boolean => deps.secureCookies ?? new URL(request.url).protocol === 'https:';

  async function signedIn(request: Request): Promise<TokenInfo | undefined> {
    const id = parseCookies(request.headers.get('cookie')).get(SESSION_COOKIE);
    if (!id) return undefined;
    try {
      return await deps.sessions.principal(id);
    } catch (err) {
      log.warn({ err }, 'session check failed');
      return undefined;
    }
  }

  async function signIn(request: Request): Promise<Response> {
    // A cross-site form must not be able to sign the browser into someone else's session.
    if (!originOk(request)) return refused(new OutpostError('CSRF', { detail: 'cross-site sign-in' }));
    const form = await readSignInForm(request);
    if (!form) return refused(new OutpostError('BAD_REQUEST', { detail: 'malformed sign-in form' }));
    // The session this browser held until now ends with the sign-in, not 12 h later: its cookie
    // is being replaced, so a copy of it (or one planted in the browser) would otherwise live on
    // unseen. Both in one transaction: a sign-in that cannot end it does not happen.
    const replaced = parseCookies(request.headers.get('cookie')).get(SESSION_COOKIE);
    let sessionId: string | undefined;
    try {
      if (form.code) sessionId = await deps.sessions.openWithCode(form.code, replaced);
      else if (form.token) sessionId = await deps.sessions.openWithToken(form.token, replaced);
    } catch (err) {
      if (isOutpostError(err, 'RATE_LIMITED')) return refused(err, retryAfter(err));
      log.warn({ err }, 'sign-in failed');
      const failed = new OutpostError('INTERNAL', {
        detail:
          'sign-in did not complete, and the session this browser held is as it was. Sign in again (a sign-in link works once: `npx outpost signin-link` prints a new one)',
      });
      if (form.wantsJson) return refused(failed);
      return html(signInPage({ error: `${failed.message}. ${failed.hint}`, next: form.next }), failed.http);
    }
    if (!sessionId) {
      log.info({ via: form.code ? 'code' : 'token' }, 'sign-in refused');
      const message = form.code
        ? 'That sign-in link has expired or was already used. Run `npx outpost signin-link` for a new one, or paste a user token.'
        : 'That token is not a valid user token.';
      if (form.wantsJson) return refused(new OutpostError('UNAUTHENTICATED', { detail: message }));
      return html(signInPage({ error: message, next: form.next }), 401);
    }
    log.info({ via: form.code ? 'code' : 'token' }, 'sign-in');
    const cookies = sessionCookies(sessionId, isSecure(request));
    return form.wantsJson ? json({ ok: true, next: form.next }, 200, cookies) : redirect(form.next, cookies);
  }

  async function signOut(request: Request): Promise<Response> {
    const c = cookieAuth(request);
    if (!c.csrfOk) return refused(new OutpostError('CSRF', { detail: 'sign-out without the CSRF header' }));
    // The server-side session ends here, so a copied cookie is worthless afterwards.
    if (c.sessionId) await deps.sessions.close(c.sessionId);
    return json({ ok: true }, 200, clearedCookies(isSecure(request)));
  }

  return async (request: Request): Promise<Response | undefined> => {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method.toUpperCase();
    const read = method === 'GET' || method === 'HEAD';

    if (path.startsWith('/ui/') && read) {
      const asset = assets.get(path.slice(4));
      if (!asset) return html('<h1>Not found</h1>', 404);
      return serveAsset(asset, request, securityHeaders());
    }
    if (path === '/signin') {
      if (method === 'POST') return signIn(request);
      if (read) return html(signInPage({ next: safeNext(url.searchParams.get('next')) }));
      return undefined;
    }
    if (path === '/signout' && method === 'POST') return signOut(request);
    if (path === '/' && read) return redirect((await signedIn(request)) ? '/runs' : '/signin');
    if (path === '/graphql' && method === 'GET' && (request.headers.get('accept') ?? '').includes('text/html')) {
      if (!(await signedIn(request))) return redirect('/signin?next=%2Fgraphql');
      return graphiqlResponse(parseCookies(request.headers.get('cookie')).get(CSRF_COOKIE));
    }
    if (read && APP_ROUTES.some((r) => r.test(path))) {
      const who = await signedIn(request);
      if (!who) return redirect(`/signin?next=${encodeURIComponent(path + url.search)}`);
      return html(shellFor(who.role ?? 'VIEWER'));
    }
    return undefined;
  };
}
