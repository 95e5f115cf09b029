// Agents: health, last heartbeat, the code servers each runs and its running runs.
/* global setTimeout, clearTimeout */
import { gql } from '../api.js';
import { errorBox, fmtRelative, fmtTime, h, mount, shortId } from '../dom.js';
import { AGENTS } from '../queries.js';

const REFRESH_MS = 3000;

export async function agentsView(main) {
  let timer;
  let stopped = false;
  const body = h('tbody', {});
  const errorSlot = h('div', {});
  mount(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Agents')),
    errorSlot,
    h(
      'div',
      { class: 'card table-card' },
      h(
        'table',
        { class: 'table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Health', 'Agent', 'Host', 'Last heartbeat', 'Code servers', 'Running runs'].map((c) => h('th', {}, c)),
          ),
        ),
        body,
      ),
    ),
  );
  async function refresh() {
    clearTimeout(timer);
    try {
      const { agents } = await gql(AGENTS);
      if (stopped) return;
      errorSlot.replaceChildren();
      body.replaceChildren(
        ...agents.map((a) =>
          h(
            'tr',
            { 'data-agent': a.id, 'data-healthy': String(a.healthy) },
            h(
              'td',
              {},
              h(
                'span',
                { class: `health ${a.healthy ? 'health-ok' : 'health-bad'}` },
                a.healthy ? 'Healthy' : 'Unhealthy',
              ),
            ),
            h('td', {}, a.name || '', h('div', { class: 'mono muted small' }, a.id)),
            h('td', {}, a.hostname ?? ''),
            h('td', { title: fmtTime(a.lastHeartbeatAt) }, fmtRelative(a.lastHeartbeatAt)),
            h('td', {}, codeServers(a.codeServers)),
            h(
              'td',
              {},
              (a.runningRunIds ?? []).map((id) =>
                h('a', { class: 'mono tag', href: `/runs/${encodeURIComponent(id)}` }, shortId(id)),
              ),
            ),
          ),
        ),
      );
      if (!agents.length)
        body.append(
          h(
            'tr',
            {},
            h('td', { colspan: 6, class: 'empty' }, 'No agent has registered yet. Start one with `outpost agent`.'),
          ),
        );
    } catch (err) {
      if (!stopped) errorSlot.replaceChildren(errorBox(err));
    }
    if (!stopped) timer = setTimeout(() => void refresh(), REFRESH_MS);
  }
  await refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Code servers arrive as JSON: an array of {location, status, ...} or a map by location. */
function codeServers(cs) {
  if (!cs) return '';
  const list = Array.isArray(cs)
    ? cs
    : Object.entries(cs).map(([location, v]) => ({ location, ...(typeof v === 'object' ? v : { status: v }) }));
  return list.map((s) =>
    h('span', { class: 'tag' }, `${s.location ?? s.name ?? '?'}${s.status ? `: ${s.status}` : ''}`),
  );
}
