// The client app: a tiny router over history.pushState. Each view renders into <main> and
// returns a cleanup function that stops its timers and live streams when you navigate away.
/* global window, document, URLSearchParams, Element */
import { signOut } from './api.js';
import { errorBox, mount } from './dom.js';
import { runsView } from './views/runs.js';
import { runView } from './views/run.js';
import { locationsView } from './views/locations.js';
import { locationView } from './views/location.js';
import { assetsView } from './views/assets.js';
import { jobView } from './views/job.js';
import { automationView } from './views/automation.js';
import { agentsView } from './views/agents.js';
import { startAgentHealthBanner } from './views/agent-health.js';
import { auditView } from './views/audit.js';

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';
export const config = {
  temporalUiUrl: meta('outpost-temporal-ui'),
  temporalNamespace: meta('outpost-temporal-namespace'),
};

const ROUTES = [
  [/^\/runs\/?$/, () => runsView],
  [/^\/runs\/([^/]+)$/, () => runView],
  [/^\/locations\/?$/, () => locationsView],
  [/^\/locations\/([^/]+)\/jobs\/([^/]+)$/, () => jobView],
  [/^\/locations\/([^/]+)\/assets\/?$/, () => assetsView],
  [/^\/locations\/([^/]+)\/?$/, () => locationView],
  [/^\/automation\/?$/, () => automationView],
  [/^\/agents\/?$/, () => agentsView],
  [/^\/audit\/?$/, () => auditView],
];

let cleanup = () => {};

async function render() {
  cleanup();
  cleanup = () => {};
  const main = document.getElementById('main');
  const path = window.location.pathname;
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', path.startsWith(a.dataset.nav));
  }
  const found = ROUTES.find(([re]) => re.test(path));
  if (!found) {
    mount(main, errorBox({ code: 'Not found', message: `No page at ${path}` }));
    return;
  }
  const params = path.match(found[0]).slice(1).map(decodeURIComponent);
  const ctx = { params, query: new URLSearchParams(window.location.search), config, navigate };
  try {
    const stop = await found[1]()(main, ctx);
    if (typeof stop === 'function') cleanup = stop;
  } catch (err) {
    mount(main, errorBox(err));
  }
}

export function navigate(href, { replace = false } = {}) {
  if (replace) window.history.replaceState(null, '', href);
  else window.history.pushState(null, '', href);
  void render();
}

// Same-origin links to app pages navigate in place; everything else behaves normally.
document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target instanceof Element ? ev.target.closest('a[href]') : null;
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, window.location.href);
  if (url.origin !== window.location.origin || !ROUTES.some(([re]) => re.test(url.pathname))) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', () => void render());
document.getElementById('signout')?.addEventListener('click', () => void signOut());
startAgentHealthBanner();
void render();
