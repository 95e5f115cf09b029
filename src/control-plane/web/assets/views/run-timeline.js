// The run's status timeline: its status changes in order (queued, launched, started, ended)
// with the time each took, then one bar per step, drawn to scale over the execution.
// Start and end are the API's startedAt/endedAt (the RUN_START and terminal events' own
// times) and the run's length is its durationMs, so the header and the timeline agree.
import { fmtDuration, fmtTime, h, TERMINAL, toMs } from '../dom.js';

/** How a step attempt ends, by event type (Dagster's STEP_UP_FOR_RETRY arrives as an ENGINE event). */
const ATTEMPT_END = { STEP_SUCCESS: 'SUCCESS', STEP_FAILURE: 'FAILURE', STEP_CANCELED: 'CANCELED' };
const dagsterType = (e) => (e.type === 'ENGINE' ? e.data?.dagsterEventType : undefined);

/**
 * Pure: step spans from events, in first-start order. A retried step (Dagster's RetryPolicy or
 * RetryRequested) has one attempt per execution: STEP_START or STEP_RESTARTED opens one,
 * STEP_UP_FOR_RETRY ends it as RETRY; the span runs from the first attempt's start to the last's end.
 */
export function stepSpans(events) {
  const steps = new Map();
  for (const e of events) {
    if (!e.stepKey) continue;
    const t = toMs(e.timestamp);
    let s = steps.get(e.stepKey);
    if (!s) steps.set(e.stepKey, (s = { key: e.stepKey, start: t, end: undefined, status: 'RUNNING', attempts: [] }));
    const type = dagsterType(e);
    const ends = ATTEMPT_END[e.type] ?? (type === 'STEP_UP_FOR_RETRY' ? 'RETRY' : undefined);
    if (e.type === 'STEP_START' || type === 'STEP_RESTARTED') {
      if (!s.attempts.length) s.start = t;
      s.attempts.push({ start: t, end: undefined, status: 'RUNNING' });
      [s.end, s.status] = [undefined, 'RUNNING'];
    } else if (ends) {
      const open = s.attempts.at(-1);
      if (open && open.end === undefined) [open.end, open.status] = [t, ends];
      [s.end, s.status] = [t, ends];
    }
  }
  return [...steps.values()];
}

const attemptLabel = (status) => (status === 'RETRY' ? 'failed, retried' : status.toLowerCase());

/** Pure: what the run is doing now, for the open end of the timeline. */
export function liveLabel(status, { agentsHealthy = true } = {}) {
  if (status === 'QUEUED') return agentsHealthy ? 'Waiting to launch' : 'Waiting for an agent';
  if (status === 'STARTING') return 'Starting';
  if (status === 'CANCELING') return 'Canceling';
  return 'Running';
}

export function renderTimeline(el, run, events, now = Date.now(), opts = {}) {
  const terminal = TERMINAL.has(run.status);
  const created = toMs(run.createdAt);
  const launched = toMs(run.launchedAt);
  const started = toMs(run.startedAt);
  const ended = toMs(run.endedAt);
  const endLabel = terminal ? run.status.charAt(0) + run.status.slice(1).toLowerCase() : liveLabel(run.status, opts);

  const phases = [
    ['Queued', created, 'queued'],
    ['Launched', launched, 'starting'],
    ['Started', started, 'started'],
    [endLabel, terminal ? ended : undefined, terminal ? run.status.toLowerCase() : 'now'],
  ].filter(([, t]) => t !== undefined);
  const chips = phases.map(([label, t, kind], i) => {
    const next = phases[i + 1]?.[1] ?? (terminal ? undefined : now);
    // Started -> end is the run's duration: the API's number, the one the header shows.
    const dur = label === 'Started' && terminal && run.durationMs != null ? run.durationMs : next - t;
    return h(
      'div',
      { class: `tl-phase-chip tl-chip-${kind}`, 'data-phase': label },
      h('span', { class: 'tl-chip-label' }, label),
      h('span', { class: 'tl-chip-time mono' }, fmtTime(t)),
      next !== undefined && i < phases.length - 1 ? h('span', { class: 'tl-chip-dur' }, `→ ${fmtDuration(dur)}`) : null,
    );
  });
  if (!terminal)
    chips.push(
      h(
        'div',
        { class: `tl-phase-chip tl-chip-now${run.status === 'QUEUED' ? ' tl-chip-waiting' : ''}`, id: 'tl-now' },
        h('span', { class: 'tl-chip-label' }, endLabel),
        h('span', { class: 'tl-chip-time' }, 'now'),
      ),
    );

  // A step still open when the run ended ends with it (its open attempt too).
  const close = (x) =>
    x.end === undefined && terminal
      ? { ...x, end: ended ?? x.start, status: run.status === 'CANCELED' ? 'CANCELED' : x.status }
      : x;
  const steps = stepSpans(events).map((s) => ({ ...close(s), attempts: s.attempts.map(close) }));
  let gantt = null;
  if (steps.length) {
    const t0 = Math.min(started ?? Infinity, ...steps.map((s) => s.start ?? Infinity));
    const t1 = Math.max(t0 + 1, ended ?? now, ...steps.map((s) => s.end ?? now));
    const pct = (t) => `${(((t - t0) / (t1 - t0)) * 100).toFixed(2)}%`;
    const width = (a, b) => `${Math.max(0.8, ((b - a) / (t1 - t0)) * 100).toFixed(2)}%`;
    gantt = h(
      'div',
      { class: 'tl-steps' },
      steps.map((s) =>
        h(
          'div',
          { class: 'tl-step', 'data-step': s.key },
          h('span', { class: 'tl-step-name mono', title: s.key }, s.key),
          h(
            'span',
            { class: 'tl-track' },
            // A retried step draws each attempt where it ran; the gaps are the waits between them.
            s.attempts.length > 1
              ? s.attempts.map((a, i) =>
                  h('span', {
                    class: `tl-bar tl-bar-${a.status.toLowerCase()}`,
                    'data-attempt': i + 1,
                    style: `left:${pct(a.start)};width:${width(a.start, a.end ?? now)}`,
                    title: `${s.key}, attempt ${i + 1} of ${s.attempts.length}: ${attemptLabel(a.status)}, ${fmtDuration((a.end ?? now) - a.start)}`,
                  }),
                )
              : h('span', {
                  class: `tl-bar tl-bar-${s.status.toLowerCase()}`,
                  style: `left:${pct(s.start ?? t0)};width:${width(s.start ?? t0, s.end ?? now)}`,
                  title: `${s.key}: ${attemptLabel(s.status)}`,
                }),
          ),
          h(
            'span',
            { class: 'tl-step-dur num' },
            fmtDuration((s.end ?? now) - (s.start ?? t0)),
            s.attempts.length > 1 ? h('span', { class: 'tl-attempts' }, ` · ${s.attempts.length} attempts`) : null,
          ),
        ),
      ),
    );
  }
  // No steps yet (e.g. a QUEUED run): only the phases; a null child would print "null".
  el.replaceChildren(...[h('div', { class: 'tl-phases' }, chips), gantt].filter(Boolean));
}
