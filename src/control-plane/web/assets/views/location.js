// One code location: kind (Outpost or Dagster, with its version), status, load error, its
// jobs (with op counts), its assets and its automation.
import { gql } from '../api.js';
import { errorBox, fmtRelative, h, mount, statusPill } from '../dom.js';
import { LOCATION } from '../queries.js';
import { kindChip, staleNote } from './location-kind.js';
import { isImplicitAssetJob } from './assets.js';

export async function locationView(main, { params }) {
  const name = params[0];
  const { codeLocation: l } = await gql(LOCATION, { name });
  if (!l) {
    mount(main, errorBox({ code: 'OUTPOST_ERR_UNKNOWN_LOCATION', message: `No code location named ${name}` }));
    return;
  }
  const link = (job) =>
    h('a', { href: `/locations/${encodeURIComponent(l.name)}/jobs/${encodeURIComponent(job)}` }, job);
  mount(
    main,
    h('div', { class: 'crumbs' }, h('a', { href: '/locations' }, 'Code locations'), ' / ', l.name),
    h('div', { class: 'page-head' }, h('h1', {}, l.name, ' ', statusPill(l.status)), kindChip(l)),
    h(
      'div',
      { class: 'muted small', id: 'location-facts' },
      l.kind === 'DAGSTER' ? `Dagster ${l.dagsterVersion ?? '(version not reported yet)'} · ` : '',
      l.version ? `version ${l.version}` : '',
      l.updatedAt ? ` · updated ${fmtRelative(l.updatedAt)}` : '',
    ),
    l.spec
      ? h(
          'div',
          { class: 'card' },
          h('h3', {}, 'Deployment'),
          h('code', { class: 'event-data' }, JSON.stringify(l.spec)),
        )
      : null,
    l.loadError
      ? h('div', { class: 'card' }, h('h3', {}, 'Load error'), h('pre', { class: 'load-error' }, l.loadError))
      : null,
    staleNote(l),
    h(
      'div',
      { class: 'card table-card' },
      h('h3', { class: 'card-title' }, 'Jobs'),
      h(
        'table',
        { class: 'table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Job'), h('th', {}, 'Description'), h('th', {}, 'Ops'))),
        h(
          'tbody',
          {},
          (l.jobs ?? []).map((j) =>
            h(
              'tr',
              { 'data-job': j.name },
              h('td', {}, link(j.name)),
              h(
                'td',
                { class: 'muted' },
                isImplicitAssetJob(j.name) ? 'The implicit job that materializes the assets' : j.description || '',
              ),
              h('td', { class: 'num' }, j.ops?.length ?? 0),
            ),
          ),
        ),
      ),
    ),
    l.assets?.length
      ? h(
          'div',
          { class: 'card', id: 'location-assets' },
          h('h3', {}, 'Assets'),
          h(
            'p',
            {},
            h(
              'a',
              { href: `/locations/${encodeURIComponent(l.name)}/assets` },
              `${l.assets.length} asset${l.assets.length === 1 ? '' : 's'}: lineage, latest materializations, Materialize →`,
            ),
          ),
        )
      : null,
    l.schedules?.length || l.sensors?.length
      ? h(
          'div',
          { class: 'card table-card' },
          h(
            'h3',
            { class: 'card-title' },
            'Schedules & sensors ',
            h('a', { href: '/automation', class: 'small' }, 'manage →'),
          ),
          h(
            'table',
            { class: 'table' },
            h(
              'tbody',
              {},
              (l.schedules ?? []).map((s) =>
                h(
                  'tr',
                  {},
                  h('td', {}, '⏱ ', s.name),
                  h('td', {}, link(s.job)),
                  h('td', { class: 'mono' }, `${s.cron} (${s.timezone})`),
                  h('td', {}, s.state),
                ),
              ),
              (l.sensors ?? []).map((s) =>
                h(
                  'tr',
                  {},
                  h('td', {}, '◉ ', s.name),
                  h('td', {}, link(s.job)),
                  h('td', {}, 'sensor'),
                  h('td', {}, s.state),
                ),
              ),
            ),
          ),
        )
      : null,
  );
}
