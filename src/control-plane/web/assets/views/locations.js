// Code locations: one card per location with its status, version, load error and counts.
/* global setTimeout, clearTimeout */
import { gql } from '../api.js';
import { errorBox, fmtRelative, h, mount, statusPill, toast } from '../dom.js';
import { LOCATIONS, RELOAD_LOCATION } from '../queries.js';
import { can } from '../roles.js';
import { kindChip } from './location-kind.js';

const REFRESH_MS = 3000;

export async function locationsView(main) {
  let timer;
  let stopped = false;
  const list = h('div', { class: 'cards' });
  const errorSlot = h('div', {});
  mount(main, h('div', { class: 'page-head' }, h('h1', {}, 'Code locations')), errorSlot, list);

  async function reload(name, btn) {
    btn.disabled = true;
    try {
      await gql(RELOAD_LOCATION, { name });
      toast(`Reloading ${name}`);
      await refresh();
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      btn.disabled = false;
    }
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const { codeLocations } = await gql(LOCATIONS);
      if (stopped) return;
      errorSlot.replaceChildren();
      list.replaceChildren(
        ...codeLocations.map((l) => {
          const btn = can('reloadCodeLocation')
            ? h('button', { class: 'btn btn-ghost', onclick: (e) => void reload(l.name, e.currentTarget) }, 'Reload')
            : null;
          return h(
            'section',
            {
              class: 'card location-card',
              'data-location': l.name,
              'data-status': l.status,
              'data-reachable': String(l.reachable),
            },
            h(
              'div',
              { class: 'card-head' },
              h('h2', {}, h('a', { href: `/locations/${encodeURIComponent(l.name)}` }, l.name)),
              statusPill(l.status),
              kindChip(l),
              // A location in ERROR has no server to reach: its load error says why.
              l.reachable || l.status === 'ERROR'
                ? null
                : h(
                    'span',
                    { class: 'pill pill-unreachable', title: 'No healthy agent reports this code server' },
                    'UNREACHABLE',
                  ),
              h('span', { class: 'topbar-spacer' }),
              btn,
            ),
            h(
              'div',
              { class: 'muted small' },
              `${l.jobs?.length ?? 0} jobs · ${l.schedules?.length ?? 0} schedules · ${l.sensors?.length ?? 0} sensors`,
              l.assets?.length ? ' · ' : '',
              l.assets?.length
                ? h(
                    'a',
                    { href: `/locations/${encodeURIComponent(l.name)}/assets` },
                    `${l.assets.length} asset${l.assets.length === 1 ? '' : 's'}`,
                  )
                : null,
              l.version ? ` · version ${l.version}` : '',
              l.updatedAt ? ` · updated ${fmtRelative(l.updatedAt)}` : '',
            ),
            l.loadError ? h('pre', { class: 'load-error' }, l.loadError) : null,
            l.jobs?.length
              ? h(
                  'ul',
                  { class: 'job-links' },
                  l.jobs.map((j) =>
                    h(
                      'li',
                      {},
                      h(
                        'a',
                        { href: `/locations/${encodeURIComponent(l.name)}/jobs/${encodeURIComponent(j.name)}` },
                        j.name,
                      ),
                      j.description ? h('span', { class: 'muted' }, ` — ${j.description}`) : null,
                    ),
                  ),
                )
              : null,
          );
        }),
      );
      if (!codeLocations.length)
        list.append(h('p', { class: 'empty' }, 'No code locations. Deploy one with `outpost locations deploy`.'));
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
