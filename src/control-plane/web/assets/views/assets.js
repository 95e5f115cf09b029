// A location's assets (Dagster software-defined assets): their lineage drawn with the op-graph
// layout, a table with group, description, dependencies, jobs and the latest materialization,
// and Dagster's "Materialize": all assets, or those selected in the table or on the graph. A
// materialization is a launchRun with an asset selection and no job, which targets the
// location's implicit asset job.
import { gql } from '../api.js';
import { errorBox, fmtRelative, fmtTime, h, mount, shortId, statusPill, toast } from '../dom.js';
import { ASSETS, LAUNCH_RUN } from '../queries.js';
import { kindChip, staleNote } from './location-kind.js';
import { opGraph } from './op-graph.js';
import { can, role } from '../roles.js';

/** Dagster's implicit asset job(s): `__ASSET_JOB`, or `__ASSET_JOB_<n>` per partitions definition. */
export const isImplicitAssetJob = (job) => /^__ASSET_JOB(_\d+)?$/.test(job);

export const assetHref = (location, key) =>
  `/locations/${encodeURIComponent(location)}/assets?asset=${encodeURIComponent(key)}`;

/** A note naming the assets whose Dagster automation Outpost does not evaluate; null when none. */
function unsupportedNote(assets) {
  const named = assets.filter((a) => a.automationCondition || a.freshnessPolicy).map((a) => a.key);
  if (!named.length) return null;
  return h(
    'div',
    { class: 'notice-box', id: 'assets-unsupported' },
    h('strong', {}, 'OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE'),
    ` ${named.join(', ')} declare${named.length === 1 ? 's' : ''} a Dagster AutomationCondition or freshness policy. `,
    'Outpost does not run Dagster’s automation daemon: nothing materializes these assets on its own and no freshness is checked. ',
    'Materialize them here, or with a schedule or a sensor of your own.',
  );
}

export async function assetsView(main, { params, query, navigate }) {
  const name = params[0];
  const { codeLocation: l } = await gql(ASSETS, { name });
  if (!l) {
    mount(main, errorBox({ code: 'OUTPOST_ERR_UNKNOWN_LOCATION', message: `No code location named ${name}` }));
    return;
  }
  const assets = [...(l.assets ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const focus = query.get('asset') ?? '';
  const selected = new Set(assets.some((a) => a.key === focus) ? [focus] : []);
  const locHref = `/locations/${encodeURIComponent(l.name)}`;

  const graphSlot = h('div', { class: 'graph-scroll', id: 'asset-graph' });
  const tbody = h('tbody', {});
  const serverError = h('div', {});
  const mayLaunch = can('launchRun');
  const allBtn = h(
    'button',
    { class: 'btn', id: 'materialize-all', onclick: (e) => void materialize(all(), e.currentTarget) },
    'Materialize all',
  );
  const selBtn = h('button', {
    class: 'btn btn-primary',
    id: 'materialize-selected',
    onclick: (e) => void materialize([...selected], e.currentTarget),
  });
  // Assets no job materializes (observable sources) cannot be in a materialization.
  const all = () => assets.filter((a) => (a.jobNames ?? []).length > 0).map((a) => a.key);

  function toggle(key) {
    if (selected.has(key)) selected.delete(key);
    else selected.add(key);
    render();
  }

  async function materialize(keys, btn) {
    if (!keys.length) return;
    btn.disabled = true;
    serverError.replaceChildren();
    try {
      const input = { location: l.name, assetSelection: keys, runConfig: {}, tags: {} };
      const data = await gql(LAUNCH_RUN, { input });
      toast(`Materializing ${keys.length === 1 ? keys[0] : `${keys.length} assets`}`);
      navigate(`/runs/${encodeURIComponent(data.launchRun.id)}`);
    } catch (err) {
      serverError.replaceChildren(errorBox(err));
      btn.disabled = false;
    }
  }

  const nodes = assets.map((a) => ({
    name: a.key,
    description: a.description,
    inputs: (a.deps ?? []).map((d) => ({ fromOp: d })),
    asset: a,
  }));
  const lastMat = (a) => a.lastMaterialization;

  function render() {
    mount(
      graphSlot,
      assets.length
        ? opGraph(nodes, {
            noun: 'asset',
            // Kept short to fit the node; the table has the details.
            meta: (n) => {
              const m = lastMat(n.asset);
              return `${n.asset.groupName ?? 'default'} · ${m ? fmtRelative(m.timestamp) : 'never'}`;
            },
            nodeAttrs: (n) => ({
              class: [
                'asset-node',
                lastMat(n.asset) ? 'materialized' : '',
                selected.has(n.name) ? 'selected' : '',
                n.name === focus ? 'focused' : '',
              ]
                .filter(Boolean)
                .join(' '),
              'data-asset': n.name,
              'aria-pressed': String(selected.has(n.name)),
            }),
            onNodeClick: mayLaunch ? toggle : undefined,
          })
        : h('p', { class: 'muted' }, 'This location defines no assets.'),
    );
    tbody.replaceChildren(...assets.map(row));
    if (!assets.length) tbody.append(h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No assets.')));
    selBtn.textContent = `Materialize selected (${selected.size})`;
    selBtn.disabled = selected.size === 0 || l.status !== 'LOADED';
    allBtn.disabled = all().length === 0 || l.status !== 'LOADED';
  }

  function row(a) {
    const m = lastMat(a);
    return h(
      'tr',
      { 'data-asset': a.key, class: a.key === focus ? 'focused' : null },
      h(
        'td',
        {},
        h('input', {
          type: 'checkbox',
          'aria-label': `Select ${a.key}`,
          checked: selected.has(a.key),
          disabled: !mayLaunch,
          onchange: () => toggle(a.key),
        }),
      ),
      h('td', { class: 'mono' }, h('strong', {}, a.key)),
      h('td', {}, a.groupName ?? h('span', { class: 'muted' }, 'default')),
      h('td', { class: 'muted' }, a.description || '', unsupportedTags(a)),
      h(
        'td',
        { class: 'asset-deps' },
        (a.deps ?? []).map((d) => h('a', { class: 'mono tag', href: assetHref(l.name, d) }, d)),
      ),
      h(
        'td',
        { class: 'asset-jobs' },
        (a.jobNames ?? []).map((j) =>
          h(
            'a',
            { class: `tag${isImplicitAssetJob(j) ? ' muted' : ''}`, href: `${locHref}/jobs/${encodeURIComponent(j)}` },
            j,
          ),
        ),
      ),
      h(
        'td',
        { class: 'nowrap last-materialization' },
        m
          ? h(
              'a',
              { href: `/runs/${encodeURIComponent(m.runId)}`, title: `${fmtTime(m.timestamp)} · run ${m.runId}` },
              fmtRelative(m.timestamp),
              h('span', { class: 'muted mono small' }, ` ${shortId(m.runId)}`),
            )
          : h('span', { class: 'muted' }, 'never'),
      ),
      h('td', { class: 'asset-checks' }, (a.checks ?? []).map(checkChip)),
    );
  }

  // Dagster automation the asset declares and Outpost does not evaluate: named, never dropped.
  function unsupportedTags(a) {
    const tags = [
      ['automation', a.automationCondition, 'AutomationCondition', 'nothing materializes this asset on its own'],
      ['freshness', a.freshnessPolicy, 'freshness policy', 'no freshness state is kept or checked'],
    ].filter(([, v]) => v);
    return tags.map(([kind, v, what, effect]) =>
      h(
        'span',
        {
          class: 'tag asset-unsupported',
          'data-unsupported': kind,
          title: `OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE: Outpost does not evaluate Dagster's ${what} (${v}): ${effect}. Materialize it by hand, or with a schedule or a sensor of your own.`,
        },
        `${kind}: ${v} · not evaluated`,
      ),
    );
  }

  // One check: its latest result (passed, or failed at its severity) linking to the run, or "not run".
  function checkChip(c) {
    const e = c.lastEvaluation;
    const state = !e ? 'none' : e.passed ? 'passed' : e.severity === 'WARN' ? 'warn' : 'failed';
    const mark = { none: '○', passed: '✓', warn: '!', failed: '✗' }[state];
    const said = !e ? 'not evaluated yet' : e.passed ? 'passed' : `failed (${e.severity})`;
    const meta = e?.metadata ? Object.entries(e.metadata).map(([k, v]) => `${k}: ${JSON.stringify(v)}`) : [];
    const title = [
      `${c.name}: ${said}${e ? ` ${fmtTime(e.timestamp)} · run ${e.runId}` : ''}`,
      c.description,
      c.blocking ? 'blocking: a failure stops downstream assets' : '',
      ...meta,
    ]
      .filter(Boolean)
      .join('\n');
    const attrs = { class: `tag asset-check check-${state}`, 'data-check': c.name, 'data-state': state, title };
    const text = `${mark} ${c.name}${e && !e.passed ? ` (${e.severity})` : ''}`;
    return e ? h('a', { ...attrs, href: `/runs/${encodeURIComponent(e.runId)}` }, text) : h('span', attrs, text);
  }

  mount(
    main,
    h(
      'div',
      { class: 'crumbs' },
      h('a', { href: '/locations' }, 'Code locations'),
      ' / ',
      h('a', { href: locHref }, l.name),
      ' / Assets',
    ),
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Assets'),
      kindChip(l),
      statusPill(l.status),
      h('span', { class: 'topbar-spacer' }),
      mayLaunch ? [selBtn, allBtn] : null,
    ),
    mayLaunch
      ? h(
          'p',
          { class: 'muted small' },
          'Select assets in the table or click them on the graph; a materialization runs the location’s asset job for exactly those assets.',
        )
      : h('p', { class: 'muted small', id: 'materialize-denied' }, `Your role (${role}) cannot materialize assets.`),
    serverError,
    staleNote(l),
    unsupportedNote(assets),
    h('div', { class: 'card' }, h('h3', {}, 'Lineage'), graphSlot),
    h(
      'div',
      { class: 'card table-card' },
      h('h3', { class: 'card-title' }, `${assets.length} asset${assets.length === 1 ? '' : 's'}`),
      h(
        'table',
        { class: 'table', id: 'assets' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['', 'Asset', 'Group', 'Description', 'Depends on', 'Jobs', 'Latest materialization', 'Checks'].map((c) =>
              h('th', {}, c),
            ),
          ),
        ),
        tbody,
      ),
    ),
  );
  render();
  main.querySelector('tr.focused')?.scrollIntoView({ block: 'center' });
}
