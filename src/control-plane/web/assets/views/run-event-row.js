// One row of the run page's event log. Dagster runs add two things: ENGINE events carry the
// Dagster event type they stand for (data.dagsterEventType) as a label, asset
// materializations / observations name their asset, linked to the location's asset view, and
// Dagster's raw event record (data.dagster) is folded away.
import { fmtTime, h } from '../dom.js';
import { assetHref } from './assets.js';

const ASSET_EVENTS = new Set(['ASSET_MATERIALIZATION', 'ASSET_OBSERVATION']);

/** The Dagster event type an ENGINE event stands for, when it stands for one. */
export function dagsterTypeOf(e) {
  const t = e.type === 'ENGINE' ? e.data?.dagsterEventType : undefined;
  return typeof t === 'string' && t ? t : undefined;
}

/** @param {object} e a RunEvent  @param {string} location the run's code location */
export function eventRow(e, location) {
  const detail = [];
  if (e.error)
    detail.push(
      h('details', {}, h('summary', {}, `${e.error.name}: ${e.error.message}`), h('pre', {}, e.error.stack ?? '')),
    );
  const dagsterType = dagsterTypeOf(e);
  // The label shows the Dagster type, and Dagster's raw event record (data.dagster, a serdes
  // string) folds away: the payload line keeps what a reader scans for.
  const { dagsterEventType: _t, dagster: raw, ...rest } = e.data ?? {};
  const data = e.data && typeof e.data === 'object' ? rest : {};
  if (Object.keys(data).length) detail.push(h('code', { class: 'event-data' }, JSON.stringify(data)));
  if (raw !== undefined)
    detail.push(
      h(
        'details',
        { class: 'dagster-raw' },
        h('summary', { class: 'muted small' }, 'Dagster event record'),
        h('pre', {}, typeof raw === 'string' ? raw : JSON.stringify(raw, null, 2)),
      ),
    );
  const asset =
    ASSET_EVENTS.has(e.type) && e.assetKey
      ? h('a', { class: 'asset-link', href: assetHref(location, e.assetKey), 'data-asset-key': e.assetKey }, e.assetKey)
      : null;
  return h(
    'tr',
    {
      'data-seq': e.seq,
      'data-type': e.type,
      'data-dagster-type': dagsterType ?? null,
      class: e.level ? `lvl-${e.level}` : '',
    },
    h('td', { class: 'mono nowrap' }, fmtTime(e.timestamp)),
    h(
      'td',
      {},
      h('span', { class: `etype etype-${e.type.toLowerCase()}` }, e.type),
      dagsterType ? h('span', { class: 'dagster-type', title: 'Dagster event type' }, dagsterType) : null,
    ),
    h('td', { class: 'mono' }, e.stepKey ?? ''),
    h('td', {}, asset, e.message ?? '', detail),
  );
}
