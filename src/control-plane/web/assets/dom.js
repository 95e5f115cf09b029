// Tiny DOM helpers: build elements from data without innerHTML (so nothing from the API is
// ever parsed as HTML), plus the formatting every page shares.
/* global document, setTimeout */

/**
 * h('a', { href: '/runs', class: 'x', onclick: fn }, 'text', child)
 * Attributes starting with `on` become listeners; `null`/`false` attributes are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // Through CSSOM: the CSP forbids style attributes but not el.style.
    else if (k === 'style') el.style.cssText = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Epoch ms from an ISO string, a number, or a numeric string; undefined when absent. */
export function toMs(t) {
  if (t === null || t === undefined || t === '') return undefined;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(String(t))) return Number(t);
  const ms = Date.parse(String(t));
  return Number.isNaN(ms) ? undefined : ms;
}

export function fmtTime(t) {
  const ms = toMs(t);
  if (ms === undefined) return '—';
  const d = new Date(ms);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return sameDay ? time : `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

export function fmtDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function fmtRelative(t, now = Date.now()) {
  const ms = toMs(t);
  if (ms === undefined) return 'never';
  const diff = now - ms;
  const abs = Math.abs(diff);
  const unit =
    abs < 60_000
      ? [Math.round(abs / 1000), 's']
      : abs < 3_600_000
        ? [Math.round(abs / 60_000), 'm']
        : abs < 86_400_000
          ? [Math.round(abs / 3_600_000), 'h']
          : [Math.round(abs / 86_400_000), 'd'];
  return diff >= 0 ? `${unit[0]}${unit[1]} ago` : `in ${unit[0]}${unit[1]}`;
}

/**
 * Run duration: the API's durationMs (RUN_START to the terminal event, by the events' own
 * times; see src/shared/run-timing.ts), ticking from startedAt while the run is going, so
 * the header, the runs list, the timeline and the CLI show one number.
 */
export function runDuration(run, now = Date.now()) {
  if (TERMINAL.has(run.status)) return run.durationMs ?? undefined;
  const start = toMs(run.startedAt);
  return start === undefined ? undefined : Math.max(0, now - start);
}

export const TERMINAL = new Set(['SUCCESS', 'FAILURE', 'CANCELED']);
export const RUN_STATUSES = ['QUEUED', 'STARTING', 'STARTED', 'SUCCESS', 'FAILURE', 'CANCELING', 'CANCELED'];

export function statusPill(status) {
  return h('span', { class: `pill pill-${String(status).toLowerCase()}`, 'data-status': status }, status);
}

export function shortId(id) {
  return String(id).length > 16 ? `${String(id).slice(0, 4)}…${String(id).slice(-8)}` : String(id);
}

export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

export function errorBox(err) {
  const e = err ?? {};
  return h(
    'div',
    { class: 'error-box', role: 'alert' },
    h('strong', {}, e.code ? `${e.code}` : 'Error'),
    h('div', {}, e.message ?? String(err)),
    e.hint ? h('div', { class: 'muted' }, e.hint) : null,
  );
}
