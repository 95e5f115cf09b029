// One-click sign-in: `outpost dev` prints /signin#code=<one-time code>. The fragment never
// reaches a server or a log; we read it, clear it from the address bar at once, and post it.
// The code works once and for minutes; the session it opens is server-side and revocable.
/* global window, document, fetch, URLSearchParams */

const form = document.getElementById('signin-form');
function showError(message) {
  let p = document.querySelector('.form-error');
  if (!p) {
    p = document.createElement('p');
    p.className = 'form-error';
    p.setAttribute('role', 'alert');
    form.before(p);
  }
  p.textContent = message;
}

function redeem(code, next) {
  fetch('/signin', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, next }),
  })
    .then(async (res) => {
      const body = await res.json().catch(() => ({}));
      if (res.ok) window.location.replace(body.next ?? '/runs');
      else showError(body.errors?.[0]?.message ?? `Sign-in failed (HTTP ${res.status})`);
    })
    .catch((err) => showError(`Sign-in failed: ${err.message}`));
}

/**
 * A browser with a session (its readable CSRF cookie says so) asks before a link switches it to
 * the link's user: a link is made by any signed-in user, and opened unasked it would swap your
 * session for theirs, unseen.
 */
function confirmSwitch(code, next) {
  document.getElementById('switch-session')?.remove();
  const box = document.createElement('div');
  box.id = 'switch-session';
  box.className = 'form-error';
  box.setAttribute('role', 'alert');
  const text = document.createElement('p');
  text.textContent =
    'This browser is signed in already. The link signs it in as the user who made the link, ending your session. Use it only if you asked for it.';
  const use = document.createElement('button');
  use.type = 'button';
  use.className = 'btn btn-primary';
  use.id = 'switch-session-confirm';
  use.textContent = 'Sign in with the link';
  use.addEventListener('click', () => {
    box.remove();
    redeem(code, next);
  });
  const keep = document.createElement('a');
  keep.className = 'btn btn-ghost';
  keep.id = 'switch-session-keep';
  // Not `next`: it comes from the URL, which whoever made the link chose.
  keep.href = '/runs';
  keep.textContent = 'Keep my session';
  box.append(text, use, keep);
  form.before(box);
}

function signInFromFragment() {
  const code = new URLSearchParams(window.location.hash.slice(1)).get('code');
  if (!code) return;
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
  const next = new URLSearchParams(window.location.search).get('next') ?? '/runs';
  if (/(?:^|;\s*)outpost_csrf=/.test(document.cookie)) confirmSwitch(code, next);
  else redeem(code, next);
}

signInFromFragment();
// Opening the link while already on this page changes only the fragment: no reload.
window.addEventListener('hashchange', signInFromFragment);
