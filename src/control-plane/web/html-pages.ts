// The two HTML documents the server renders: the sign-in page and the app shell that loads
// the client (ES modules under /ui/). Everything interpolated is escaped.
import { allowedActions, roleAtLeast, type UserRole } from '../core/roles.js';

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

const head = (title: string, extra = ''): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/style.css">
${extra}
</head>`;

export interface SignInPageOptions {
  error?: string;
  next?: string;
}

/** Works without JavaScript (a plain form POST); signin.js adds the one-time `#code=` link. */
export function signInPage(o: SignInPageOptions = {}): string {
  const error = o.error ? `<p class="form-error" role="alert">${escapeHtml(o.error)}</p>` : '';
  return `${head('Sign in · Outpost', '<script type="module" src="/ui/signin.js"></script>')}
<body class="signin-body">
<main class="signin-card">
  <div class="brand brand-large"><span class="brand-mark" aria-hidden="true"></span>Outpost</div>
  <h1>Sign in</h1>
  <p class="muted">Open the one-time sign-in link <code>outpost dev</code> prints, or paste a user token
  (<code>outpost dev</code> writes one to <code>.outpost/user.token</code>; <code>outpost tokens create</code> makes more).</p>
  ${error}
  <form method="post" action="/signin" id="signin-form">
    <input type="hidden" name="next" value="${escapeHtml(o.next ?? '/runs')}">
    <label for="token">User token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus spellcheck="false">
    <button type="submit" class="btn btn-primary">Sign in</button>
  </form>
</main>
</body>
</html>`;
}

export interface ShellOptions {
  temporalUiUrl: string;
  temporalNamespace: string;
  /** The signed-in token's role: the page hides controls it may not use (the API refuses them anyway). */
  role: UserRole;
}

const NAV: Array<[string, string, UserRole]> = [
  ['/runs', 'Runs', 'VIEWER'],
  ['/locations', 'Code locations', 'VIEWER'],
  ['/automation', 'Schedules & sensors', 'VIEWER'],
  ['/agents', 'Agents', 'VIEWER'],
  ['/audit', 'Audit log', 'ADMIN'],
];

/** The app shell: navigation plus an empty main that app.js fills per route. */
export function appShell(o: ShellOptions): string {
  const nav = NAV.filter(([, , min]) => roleAtLeast(o.role, min))
    .map(([href, label]) => `<a href="${href}" data-nav="${href}">${label}</a>`)
    .join('');
  return `${head(
    'Outpost',
    `<meta name="outpost-temporal-ui" content="${escapeHtml(o.temporalUiUrl)}">
<meta name="outpost-temporal-namespace" content="${escapeHtml(o.temporalNamespace)}">
<meta name="outpost-role" content="${escapeHtml(o.role)}">
<meta name="outpost-can" content="${escapeHtml(allowedActions(o.role).join(' '))}">
<script type="module" src="/ui/app.js"></script>`,
  )}
<body data-role="${escapeHtml(o.role)}">
<header class="topbar">
  <a class="brand" href="/runs"><span class="brand-mark" aria-hidden="true"></span>Outpost</a>
  <nav class="topnav">${nav}</nav>
  <span class="topbar-spacer"></span>
  <span class="role-badge" title="What this session may do">${escapeHtml(o.role)}</span>
  <button type="button" class="btn btn-ghost" id="signout">Sign out</button>
</header>
<main id="main" class="page"><p class="muted">Loading…</p></main>
<div id="toasts" class="toasts" aria-live="polite"></div>
</body>
</html>`;
}
