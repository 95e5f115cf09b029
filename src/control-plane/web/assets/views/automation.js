// Schedules and sensors across all locations: on/off toggles, next tick, tick history, and a
// test panel that evaluates one tick without launching (views/tick-test.js).
/* global setTimeout, clearTimeout */
import { gql } from '../api.js';
import { errorBox, fmtRelative, fmtTime, h, mount, shortId, toast } from '../dom.js';
import { AUTOMATION, SET_SCHEDULE_STATE, SET_SENSOR_STATE } from '../queries.js';
import { can, role } from '../roles.js';
import { tickTestRow } from './tick-test.js';

const REFRESH_MS = 3000;
const TICKS_SHOWN = 10;

export async function automationView(main) {
  let timer;
  let stopped = false;
  const open = new Set(); // rows whose tick history is expanded survive refreshes
  const tests = new Map(); // open test panels, by row key: kept (with their results) across refreshes
  const schedBody = h('tbody', {});
  const sensorBody = h('tbody', {});
  const errorSlot = h('div', {});
  const head = (cols) =>
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        cols.map((c) => h('th', {}, c)),
      ),
    );
  mount(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Schedules & sensors')),
    errorSlot,
    h(
      'div',
      { class: 'card table-card' },
      h('h3', { class: 'card-title' }, 'Schedules'),
      h(
        'table',
        { class: 'table', id: 'schedules' },
        head(['On', 'Schedule', 'Location', 'Job', 'Cron', 'Next tick', 'Last ticks']),
        schedBody,
      ),
    ),
    h(
      'div',
      { class: 'card table-card' },
      h('h3', { class: 'card-title' }, 'Sensors'),
      h(
        'table',
        { class: 'table', id: 'sensors' },
        head(['On', 'Sensor', 'Location', 'Job', 'Cursor', '', 'Last ticks']),
        sensorBody,
      ),
    ),
  );

  async function toggle(kind, location, name, on, input) {
    input.disabled = true;
    const state = on ? 'RUNNING' : 'STOPPED';
    try {
      await gql(kind === 'schedule' ? SET_SCHEDULE_STATE : SET_SENSOR_STATE, { location, name, state });
      toast(`${name} ${on ? 'started' : 'stopped'}`);
    } catch (err) {
      input.checked = !on;
      toast(err.message, 'error');
    } finally {
      input.disabled = false;
    }
    await refresh();
  }

  function toggleCell(kind, l, item) {
    const allowed = can(kind === 'schedule' ? 'setScheduleState' : 'setSensorState');
    // A sensor Outpost cannot evaluate cannot be turned on (the server refuses it too); one left
    // running can still be turned off.
    const blocked = item.unsupported && item.state !== 'RUNNING';
    const input = h('input', {
      type: 'checkbox',
      role: 'switch',
      class: 'switch',
      checked: item.state === 'RUNNING',
      // Turning automation on or off is EDITOR's; below that the switch shows state only.
      disabled: !allowed || blocked,
      title: !allowed ? `Your role (${role}) cannot change this` : blocked ? 'Outpost cannot run this sensor' : null,
      'aria-label': `${item.name} on/off`,
      'data-toggle': `${kind}:${l.name}:${item.name}`,
      onchange: (e) => void toggle(kind, l.name, item.name, e.target.checked, e.target),
    });
    return h('td', {}, input);
  }

  function testButton(kind, l, item, key) {
    if (!can(kind === 'schedule' ? 'testSchedule' : 'testSensor')) return null;
    const onClose = () => {
      tests.delete(key);
      void refresh();
    };
    return h(
      'button',
      {
        class: 'btn btn-ghost btn-small test-tick',
        'data-test-open': key,
        onclick: () => {
          if (tests.has(key)) tests.delete(key);
          else tests.set(key, tickTestRow(kind, l.name, item, { colspan: 7, onClose }));
          void refresh();
        },
      },
      'Test',
    );
  }

  function ticksCell(key, ticks, test) {
    const list = ticks ?? [];
    if (!list.length) return h('td', { class: 'muted' }, 'none yet ', test);
    const dots = list.slice(0, TICKS_SHOWN).map((t) =>
      h('span', {
        class: `tick-dot tick-${String(t.status).toLowerCase()}`,
        title: `${t.status} ${fmtTime(t.tickTime)}`,
      }),
    );
    const btn = h(
      'button',
      {
        class: 'btn btn-ghost btn-small',
        onclick: () => {
          if (open.has(key)) open.delete(key);
          else open.add(key);
          void refresh();
        },
      },
      open.has(key) ? 'hide' : 'history',
    );
    return h('td', {}, dots, ' ', btn, ' ', test);
  }

  function historyRow(key, ticks) {
    if (!open.has(key)) return null;
    return h(
      'tr',
      { class: 'tick-history' },
      h(
        'td',
        { colspan: 7 },
        h(
          'table',
          { class: 'table table-inner' },
          h(
            'tbody',
            {},
            (ticks ?? []).slice(0, 25).map((t) =>
              h(
                'tr',
                {},
                h('td', { class: 'nowrap' }, fmtTime(t.tickTime)),
                h('td', {}, h('span', { class: `tick-dot tick-${String(t.status).toLowerCase()}` }), ' ', t.status),
                h(
                  'td',
                  {},
                  (t.runIds ?? []).map((id) =>
                    h('a', { class: 'mono tag', href: `/runs/${encodeURIComponent(id)}` }, shortId(id)),
                  ),
                ),
                h('td', { class: 'muted' }, t.error ?? t.skipReason ?? ''),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const { codeLocations } = await gql(AUTOMATION);
      if (stopped) return;
      errorSlot.replaceChildren();
      const schedRows = [];
      const sensorRows = [];
      for (const l of codeLocations) {
        for (const s of l.schedules ?? []) {
          const key = `schedule:${l.name}:${s.name}`;
          schedRows.push(
            h(
              'tr',
              { 'data-schedule': s.name, 'data-state': s.state },
              toggleCell('schedule', l, s),
              h('td', {}, h('strong', {}, s.name)),
              h('td', {}, h('a', { href: `/locations/${encodeURIComponent(l.name)}` }, l.name)),
              h(
                'td',
                {},
                h('a', { href: `/locations/${encodeURIComponent(l.name)}/jobs/${encodeURIComponent(s.job)}` }, s.job),
              ),
              h('td', { class: 'mono' }, s.cron, h('span', { class: 'muted' }, ` ${s.timezone ?? ''}`)),
              h(
                'td',
                { title: fmtTime(s.nextTickAt) },
                s.state === 'RUNNING' && s.nextTickAt ? fmtRelative(s.nextTickAt) : '—',
              ),
              ticksCell(key, s.ticks, testButton('schedule', l, s, key)),
            ),
            historyRow(key, s.ticks),
            tests.get(key),
          );
        }
        for (const s of l.sensors ?? []) {
          const key = `sensor:${l.name}:${s.name}`;
          sensorRows.push(
            h(
              'tr',
              { 'data-sensor': s.name, 'data-state': s.state },
              toggleCell('sensor', l, s),
              h(
                'td',
                {},
                h('strong', {}, s.name),
                s.unsupported
                  ? h(
                      'div',
                      { class: 'unsupported-note small', 'data-unsupported': 'sensor' },
                      `Not supported (OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE): ${s.unsupported}`,
                    )
                  : null,
              ),
              h('td', {}, h('a', { href: `/locations/${encodeURIComponent(l.name)}` }, l.name)),
              h(
                'td',
                {},
                h('a', { href: `/locations/${encodeURIComponent(l.name)}/jobs/${encodeURIComponent(s.job)}` }, s.job),
              ),
              h('td', { class: 'mono small' }, s.cursor ?? '—'),
              h('td', { class: 'muted small' }, s.minIntervalSeconds ? `every ${s.minIntervalSeconds}s` : ''),
              ticksCell(key, s.ticks, testButton('sensor', l, s, key)),
            ),
            historyRow(key, s.ticks),
            tests.get(key),
          );
        }
      }
      schedBody.replaceChildren(...schedRows.filter(Boolean));
      sensorBody.replaceChildren(...sensorRows.filter(Boolean));
      if (!schedRows.length) schedBody.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No schedules.')));
      if (!sensorRows.length) sensorBody.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No sensors.')));
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
