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

function signInFromFragment() {
  const code = new URLSearchParams(window.location.hash.slice(1)).get('code');
  if (!code) return;
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
  const next = new URLSearchParams(window.location.search).get('next') ?? '/runs';
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

signInFromFragment();
// Opening the link while already on this page changes only the fragment: no reload.
window.addEventListener('hashchange', signInFromFragment);
