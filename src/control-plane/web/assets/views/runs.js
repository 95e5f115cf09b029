// Runs list: filters in the URL (shareable), refreshed every 2 s so new runs and status
// changes appear live; "Load more" widens the window that is kept live.
/* global window, document, URLSearchParams, setTimeout, clearTimeout */
import { gql } from '../api.js';
import { errorBox, fmtDuration, fmtTime, h, mount, RUN_STATUSES, runDuration, shortId, statusPill } from '../dom.js';
import { LOCATION_NAMES, RUNS } from '../queries.js';
import { agentHealth } from './agent-health.js';

const PAGE = 50;
const MAX_ROWS = 1000;
const REFRESH_MS = 2000;

export async function runsView(main, { query, navigate }) {
  const filter = {
    status: query.get('status') || '',
    location: query.get('location') || '',
    job: query.get('job') || '',
  };
  let limit = PAGE;
  let timer;
  let stopped = false;

  const setFilter = (key, value) => {
    const q = new URLSearchParams(window.location.search);
    if (value) q.set(key, value);
    else q.delete(key);
    const s = q.toString();
    navigate(`/runs${s ? `?${s}` : ''}`, { replace: true });
  };

  const statusSel = h(
    'select',
    { id: 'filter-status', 'aria-label': 'Status', onchange: (e) => setFilter('status', e.target.value) },
    h('option', { value: '' }, 'All statuses'),
    RUN_STATUSES.map((s) => h('option', { value: s, selected: s === filter.status }, s)),
  );
  const locationSel = h(
    'select',
    { id: 'filter-location', 'aria-label': 'Location', onchange: (e) => setFilter('location', e.target.value) },
    h('option', { value: '' }, 'All locations'),
    filter.location ? h('option', { value: filter.location, selected: true }, filter.location) : null,
  );
  const jobInput = h('input', {
    id: 'filter-job',
    type: 'search',
    placeholder: 'Job name',
    'aria-label': 'Job',
    value: filter.job,
    onchange: (e) => setFilter('job', e.target.value.trim()),
  });
  const live = h('span', { class: 'live-dot', title: 'Refreshing every 2 s' }, 'Live');
  const body = h('tbody', {});
  const table = h(
    'table',
    { class: 'table runs-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Status', 'Run', 'Job', 'Location', 'Created', 'Duration'].map((c) => h('th', {}, c)),
      ),
    ),
    body,
  );
  const more = h(
    'button',
    {
      class: 'btn',
      hidden: true,
      onclick: () => {
        limit = Math.min(MAX_ROWS, limit + PAGE);
        void refresh();
      },
    },
    'Load more',
  );
  const errorSlot = h('div', {});
  mount(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Runs'), live),
    h(
      'div',
      { class: 'filters' },
      statusSel,
      locationSel,
      jobInput,
      Object.values(filter).some(Boolean) ? h('a', { href: '/runs', class: 'btn btn-ghost' }, 'Clear filters') : null,
    ),
    errorSlot,
    h('div', { class: 'card table-card' }, table),
    h('div', { class: 'center' }, more),
  );

  // Fill the location filter once; a failure here only costs the dropdown.
  gql(LOCATION_NAMES)
    .then((d) => {
      for (const l of d.codeLocations ?? []) {
        if (l.name !== filter.location) locationSel.append(h('option', { value: l.name }, l.name));
      }
    })
    .catch(() => {});

  async function refresh() {
    clearTimeout(timer);
    // A background tab does not poll; it catches up on the next tick after it is shown.
    if (document.hidden && !stopped) {
      timer = setTimeout(() => void refresh(), REFRESH_MS);
      return;
    }
    const f = {};
    if (filter.status) f.status = [filter.status];
    if (filter.location) f.location = filter.location;
    if (filter.job) f.job = filter.job;
    try {
      const data = await gql(RUNS, { filter: f, first: limit });
      if (stopped) return;
      errorSlot.replaceChildren();
      const runs = (data.runs.edges ?? []).map((e) => e.node);
      const now = Date.now();
      const health = agentHealth();
      const noAgent = health.known && health.healthy === 0;
      body.replaceChildren(
        ...runs.map((r) =>
          h(
            'tr',
            { 'data-run-id': r.id, 'data-status': r.status },
            h(
              'td',
              {},
              statusPill(r.status),
              r.status === 'QUEUED' && noAgent
                ? h('span', { class: 'muted small waiting' }, ' waiting for an agent')
                : null,
            ),
            h(
              'td',
              { class: 'mono' },
              h('a', { href: `/runs/${encodeURIComponent(r.id)}`, title: r.id }, shortId(r.id)),
            ),
            h('td', {}, r.job),
            h('td', {}, r.location),
            h('td', {}, fmtTime(r.createdAt)),
            h('td', { class: 'num' }, fmtDuration(runDuration(r, now))),
          ),
        ),
      );
      if (!runs.length) {
        body.append(
          h(
            'tr',
            {},
            h(
              'td',
              { colspan: 6, class: 'empty' },
              Object.values(filter).some(Boolean)
                ? 'No runs match these filters.'
                : 'No runs yet. Launch one from a job on the Code locations page.',
            ),
          ),
        );
      }
      more.hidden = !data.runs.pageInfo?.hasNextPage || limit >= MAX_ROWS;
      live.classList.remove('live-off');
    } catch (err) {
      if (stopped) return;
      live.classList.add('live-off');
      errorSlot.replaceChildren(errorBox(err));
    }
    if (!stopped) timer = setTimeout(() => void refresh(), REFRESH_MS);
  }
  await refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
