// The web UI, mounted by the control plane's HTTP server as one fetch-style handler:
// `createWebHandler(deps)(request)` answers the paths it owns and returns undefined for the
// rest (/graphql, /agent/graphql, /healthz...). `cookieAuth(request)` lets /graphql accept
// the browser session cookie (see session.ts for the CSRF rules).
import type { Logger } from '../../shared/logger.js';
import { appShell, signInPage } from './html-pages.js';
import { loadAssets, serveAsset, ASSETS_DIR } from './static-assets.js';
import { clearedCookies, cookieAuth, originOk, parseCookies, SESSION_COOKIE, sessionCookies } from './session.js';

export { cookieAuth, CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, type CookieAuth } from './session.js';

export interface WebDeps {
  /** True when `token` is a live user-kind token (agent tokens must answer false). */
  authenticateUserToken(token: string): Promise<boolean>;
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
const APP_ROUTES = [/^\/runs\/?$/, /^\/runs\/[^/]+$/, /^\/locations(\/.*)?$/, /^\/automation\/?$/, /^\/agents\/?$/];

const MAX_SIGNIN_BODY = 16 * 1024;

/** Only same-site relative paths, so `next` cannot bounce the user to another site. */
function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/runs';
  return next;
}

function securityHeaders(): Headers {
  return new Headers({
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
      "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // Keeps paths (run ids, filters) out of the Referer sent to other sites such as the Temporal
    // UI. Not `no-referrer`: that makes browsers send `Origin: null`, which the CSRF check refuses.
    'referrer-policy': 'same-origin',
  });
}

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

interface SignInForm {
  token: string;
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
      const body = JSON.parse(text) as { token?: unknown; next?: unknown };
      return {
        token: typeof body.token === 'string' ? body.token.trim() : '',
        next: safeNext(body.next),
        wantsJson: true,
      };
    } catch {
      return undefined;
    }
  }
  const form = new URLSearchParams(text);
  return { token: (form.get('token') ?? '').trim(), next: safeNext(form.get('next')), wantsJson: false };
}

export function createWebHandler(deps: WebDeps): WebHandler {
  const assets = loadAssets(deps.assetsDir ?? ASSETS_DIR);
  const shell = appShell({
    temporalUiUrl: deps.temporalUiUrl.replace(/\/+$/, ''),
    temporalNamespace: deps.temporalNamespace,
  });
  const log = deps.logger.child({ component: 'web' });
  const isSecure = (request: Request): boolean => deps.secureCookies ?? new URL(request.url).protocol === 'https:';

  async function signedIn(request: Request): Promise<boolean> {
    const token = parseCookies(request.headers.get('cookie')).get(SESSION_COOKIE);
    if (!token) return false;
    try {
      return await deps.authenticateUserToken(token);
    } catch (err) {
      log.warn({ err }, 'session check failed');
      return false;
    }
  }

  async function signIn(request: Request): Promise<Response> {
    // A cross-site form must not be able to sign the browser into someone else's session.
    if (!originOk(request))
      return json({ error: { code: 'OUTPOST_ERR_CSRF', message: 'Cross-site sign-in refused' } }, 403);
    const form = await readSignInForm(request);
    if (!form) return json({ error: { code: 'OUTPOST_ERR_BAD_REQUEST', message: 'Malformed sign-in request' } }, 400);
    let ok = false;
    if (form.token) {
      try {
        ok = await deps.authenticateUserToken(form.token);
      } catch (err) {
        log.warn({ err }, 'sign-in check failed');
      }
    }
    if (!ok) {
      log.info('sign-in refused');
      const message = 'That token is not a valid user token.';
      if (form.wantsJson) return json({ error: { code: 'OUTPOST_ERR_UNAUTHENTICATED', message } }, 401);
      return html(signInPage({ error: message, next: form.next }), 401);
    }
    log.info('sign-in');
    const cookies = sessionCookies(form.token, isSecure(request));
    return form.wantsJson ? json({ ok: true, next: form.next }, 200, cookies) : redirect(form.next, cookies);
  }

  function signOut(request: Request): Response {
    if (!cookieAuth(request).csrfOk)
      return json({ error: { code: 'OUTPOST_ERR_CSRF', message: 'Cross-site request refused' } }, 403);
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
    if (read && APP_ROUTES.some((r) => r.test(path))) {
      if (!(await signedIn(request))) return redirect(`/signin?next=${encodeURIComponent(path + url.search)}`);
      return html(shell);
    }
    return undefined;
  };
}
