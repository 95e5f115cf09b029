// Dagster's "test schedule / test sensor": evaluate one tick through the location's code (a
// tick time for a schedule, a cursor for a sensor) and show what it would do (run requests,
// skip reason, new cursor, error) without launching anything or storing the cursor.
import { gql } from '../api.js';
import { errorBox, h } from '../dom.js';
import { TEST_SCHEDULE, TEST_SENSOR } from '../queries.js';

const pad = (n) => String(n).padStart(2, '0');

/** A datetime-local value (local time, to the second) for epoch ms. */
export function localInputValue(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The panel's <tr>, built once per opened test and kept across the automation page's refreshes.
 * @param {'schedule'|'sensor'} kind
 * @param {string} location
 * @param {{name: string, cursor?: string|null}} item
 * @param {{colspan: number, onClose: () => void}} opts
 */
export function tickTestRow(kind, location, item, { colspan, onClose }) {
  const id = `test-${kind}-${location}-${item.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const input =
    kind === 'schedule'
      ? h('input', {
          type: 'datetime-local',
          step: 1,
          class: 'tick-time',
          value: localInputValue(Date.now()),
          'aria-label': `Tick time for ${item.name}`,
        })
      : h('input', {
          type: 'text',
          class: 'tick-cursor',
          value: item.cursor ?? '',
          placeholder: '(no cursor)',
          spellcheck: 'false',
          'aria-label': `Cursor for ${item.name}`,
        });
  const result = h('div', { class: 'tick-result', 'aria-live': 'polite' });
  const evalBtn = h('button', { type: 'submit', class: 'btn btn-primary btn-small tick-evaluate' }, 'Evaluate');

  async function evaluate(ev) {
    ev.preventDefault();
    evalBtn.disabled = true;
    result.replaceChildren(h('p', { class: 'muted' }, 'Evaluating…'));
    try {
      let data;
      if (kind === 'schedule') {
        const tickTime = new Date(input.value).getTime();
        if (Number.isNaN(tickTime)) throw new Error('Pick a tick time');
        data = (await gql(TEST_SCHEDULE, { input: { location, name: item.name, tickTime } })).testSchedule;
      } else {
        const cursor = input.value === '' ? null : input.value;
        data = (await gql(TEST_SENSOR, { input: { location, name: item.name, cursor } })).testSensor;
      }
      result.replaceChildren(...evaluationView(kind, data));
    } catch (err) {
      result.replaceChildren(errorBox(err));
    } finally {
      evalBtn.disabled = false;
    }
  }

  return h(
    'tr',
    { class: 'tick-test', id, 'data-test': `${kind}:${location}:${item.name}` },
    h(
      'td',
      { colspan },
      h(
        'form',
        { class: 'tick-test-form', onsubmit: (e) => void evaluate(e) },
        h('strong', {}, `Test ${item.name}`),
        h('label', {}, kind === 'schedule' ? 'Tick time' : 'Cursor', ' ', input),
        evalBtn,
        h('button', { type: 'button', class: 'btn btn-ghost btn-small', onclick: onClose }, 'Close'),
        h('span', { class: 'muted small' }, 'Evaluates only: nothing is launched and no cursor is stored.'),
      ),
      result,
    ),
  );
}

/** Pure rendering of a TickEvaluation. */
function evaluationView(kind, t) {
  const out = [];
  if (t.error) {
    out.push(
      h(
        'div',
        { class: 'error-box tick-error-box', role: 'alert' },
        h('strong', {}, 'The evaluation raised'),
        h('pre', { class: 'tick-error' }, t.error),
      ),
    );
  }
  if (t.skipReason) out.push(h('p', { class: 'skip-reason' }, 'Skipped: ', t.skipReason));
  const requests = t.runRequests ?? [];
  if (!t.error)
    out.push(
      h(
        'p',
        { class: 'tick-summary' },
        requests.length === 0
          ? 'No run requests.'
          : `${requests.length} run request${requests.length === 1 ? '' : 's'} (none launched).`,
      ),
    );
  if (requests.length)
    out.push(
      h(
        'table',
        { class: 'table table-inner run-requests' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Job', 'Run key', 'Partition', 'Assets', 'Tags', 'Run config'].map((c) => h('th', {}, c)),
          ),
        ),
        h(
          'tbody',
          {},
          requests.map((r) =>
            h(
              'tr',
              { class: 'run-request' },
              h('td', { class: 'mono' }, r.job),
              h('td', { class: 'mono' }, r.runKey ?? h('span', { class: 'muted' }, '—')),
              h('td', { class: 'mono' }, r.partitionKey ?? h('span', { class: 'muted' }, '—')),
              // A request that names assets runs those alone; none named: every asset of the job.
              h(
                'td',
                { class: 'mono request-assets' },
                r.assetSelection?.length ? r.assetSelection.join(', ') : h('span', { class: 'muted' }, 'whole job'),
              ),
              h(
                'td',
                {},
                Object.entries(r.tags ?? {}).map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`)),
              ),
              h('td', {}, h('code', { class: 'event-data' }, JSON.stringify(r.runConfig ?? {}))),
            ),
          ),
        ),
      ),
    );
  if (kind === 'sensor')
    out.push(h('p', { class: 'small' }, 'New cursor: ', h('code', { class: 'new-cursor' }, t.cursor ?? '(none)')));
  return out;
}
