// The audit log (ADMIN): every user-API mutation and token change, refusals included, newest
// first, with an outcome filter and "older" paging.
import { gql } from '../api.js';
import { errorBox, fmtTime, h, mount } from '../dom.js';
import { AUDIT_LOG } from '../queries.js';

const PAGE = 50;

export async function auditView(main, { query, navigate }) {
  const outcome = query.get('outcome') ?? '';
  const body = h('tbody', { id: 'audit-rows' });
  const more = h('button', { class: 'btn', id: 'audit-more', hidden: true }, 'Older');
  const errorSlot = h('div', {});
  const select = h(
    'select',
    {
      id: 'audit-outcome',
      'aria-label': 'Outcome',
      onchange: (e) => navigate(e.target.value ? `/audit?outcome=${encodeURIComponent(e.target.value)}` : '/audit'),
    },
    [
      ['', 'All outcomes'],
      ['ok', 'Allowed'],
      ['refused', 'Refused or failed'],
    ].map(([v, label]) => h('option', { value: v, selected: v === outcome }, label)),
  );
  mount(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Audit log'), h('span', { class: 'topbar-spacer' }), select),
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
            ['When', 'Actor', 'Action', 'Target', 'Outcome'].map((c) => h('th', {}, c)),
          ),
        ),
        body,
      ),
    ),
    h('div', { class: 'form-actions' }, more),
  );

  let after = null;
  async function load() {
    more.disabled = true;
    try {
      const { auditLog } = await gql(AUDIT_LOG, {
        first: PAGE,
        after,
        filter: outcome ? { outcome } : null,
      });
      for (const e of auditLog.nodes) {
        body.append(
          h(
            'tr',
            { 'data-action': e.action, 'data-outcome': e.outcome },
            h('td', { class: 'num' }, fmtTime(e.at)),
            h('td', { title: e.actorTokenId ?? '' }, e.actor),
            h('td', { class: 'mono' }, e.action),
            h('td', { class: 'mono' }, e.target ?? ''),
            h('td', { class: e.outcome === 'ok' ? 'ok' : 'refused' }, e.outcome),
          ),
        );
      }
      if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'Nothing yet.')));
      after = auditLog.pageInfo.endCursor;
      more.hidden = !auditLog.pageInfo.hasNextPage;
    } catch (err) {
      mount(errorSlot, errorBox(err));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => void load());
  await load();
}
