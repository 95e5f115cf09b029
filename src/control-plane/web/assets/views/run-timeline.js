// The run's status timeline: milestones (created, started, ended) on one axis and one bar
// per step from STEP_START to its success or failure, drawn to scale.
import { fmtDuration, h, TERMINAL, toMs } from '../dom.js';

/** Pure: step spans from events, in first-start order. */
export function stepSpans(events) {
  const steps = new Map();
  for (const e of events) {
    if (!e.stepKey) continue;
    const t = toMs(e.timestamp);
    const s = steps.get(e.stepKey) ?? { key: e.stepKey, start: t, end: undefined, status: 'RUNNING' };
    if (e.type === 'STEP_START') s.start = t;
    else if (e.type === 'STEP_SUCCESS') [s.end, s.status] = [t, 'SUCCESS'];
    else if (e.type === 'STEP_FAILURE') [s.end, s.status] = [t, 'FAILURE'];
    steps.set(e.stepKey, s);
  }
  return [...steps.values()];
}

export function renderTimeline(el, run, events, now = Date.now()) {
  const created = toMs(run.createdAt);
  const started = toMs(run.startedAt) ?? toMs(events.find((e) => e.type === 'RUN_START')?.timestamp);
  const ended =
    toMs(run.endedAt) ??
    toMs(events.find((e) => ['RUN_SUCCESS', 'RUN_FAILURE', 'RUN_CANCELED'].includes(e.type))?.timestamp);
  const terminal = TERMINAL.has(run.status);
  const steps = stepSpans(events).map((s) =>
    s.end === undefined && terminal
      ? { ...s, end: ended, status: run.status === 'CANCELED' ? 'CANCELED' : s.status }
      : s,
  );
  const t0 = created ?? started ?? now;
  const t1 = Math.max(t0 + 1, ended ?? now, ...steps.map((s) => s.end ?? now));
  const pct = (t) => `${(((t - t0) / (t1 - t0)) * 100).toFixed(2)}%`;
  const width = (a, b) => `${Math.max(0.6, ((b - a) / (t1 - t0)) * 100).toFixed(2)}%`;

  const milestones = [
    ['Created', created, 'queued'],
    ['Started', started, 'started'],
    [
      terminal ? run.status.charAt(0) + run.status.slice(1).toLowerCase() : 'Now',
      ended ?? (terminal ? undefined : now),
      terminal ? run.status.toLowerCase() : 'now',
    ],
  ].filter(([, t]) => t !== undefined);

  el.replaceChildren(
    h(
      'div',
      { class: 'tl-axis' },
      started !== undefined
        ? h('div', {
            class: 'tl-phase tl-phase-queued',
            style: `left:0;width:${width(t0, started)}`,
            title: `Queued ${fmtDuration(started - t0)}`,
          })
        : null,
      started !== undefined
        ? h('div', {
            class: `tl-phase tl-phase-${terminal ? run.status.toLowerCase() : 'running'}`,
            style: `left:${pct(started)};width:${width(started, ended ?? now)}`,
            title: `Running ${fmtDuration((ended ?? now) - started)}`,
          })
        : null,
      milestones.map(([label, t, kind]) =>
        h('div', { class: `tl-mark tl-mark-${kind}`, style: `left:${pct(t)}` }, h('span', {}, label)),
      ),
    ),
    steps.length
      ? h(
          'div',
          { class: 'tl-steps' },
          steps.map((s) =>
            h(
              'div',
              { class: 'tl-step', 'data-step': s.key },
              h('span', { class: 'tl-step-name mono' }, s.key),
              h(
                'span',
                { class: 'tl-track' },
                h('span', {
                  class: `tl-bar tl-bar-${s.status.toLowerCase()}`,
                  style: `left:${pct(s.start ?? t0)};width:${width(s.start ?? t0, s.end ?? now)}`,
                }),
              ),
              h('span', { class: 'tl-step-dur num' }, fmtDuration((s.end ?? now) - (s.start ?? t0))),
            ),
          ),
        )
      : null,
  );
}
