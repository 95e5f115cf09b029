// Agent health, shown everywhere: when no agent has heartbeated within 3 intervals, nothing
// launches and queued runs wait, so a banner under the top bar says so on every page. Pages
// that need the same fact (a queued run's "waiting for an agent") subscribe to it.
/* global document, setTimeout, clearTimeout */
import { gql } from '../api.js';
import { fmtRelative, h, mount } from '../dom.js';
import { AGENT_HEALTH } from '../queries.js';

const REFRESH_MS = 5000;

/** { known, healthy, total, lastHeartbeatAt } after the first poll; known=false before it. */
let state = { known: false, healthy: 0, total: 0, lastHeartbeatAt: undefined };
const listeners = new Set();

export const agentHealth = () => state;

/** Calls `fn(state)` now and on every change; returns the unsubscribe function. */
export function onAgentHealth(fn) {
  listeners.add(fn);
  fn(state);
  return () => listeners.delete(fn);
}

/** Pure: the banner's text for a health state, or undefined when there is nothing to say. */
export function healthMessage(s, now = Date.now()) {
  if (!s.known || s.healthy > 0) return undefined;
  if (s.total === 0) return 'No agent has registered: nothing can load or launch until one starts.';
  const last = s.lastHeartbeatAt ? ` Last heartbeat ${fmtRelative(s.lastHeartbeatAt, now)}.` : '';
  return `No healthy agent: code locations cannot be reached and queued runs wait until an agent is back.${last}`;
}

export function startAgentHealthBanner() {
  const banner = h('div', { class: 'agent-banner', id: 'agent-health', role: 'status', hidden: true });
  document.querySelector('header.topbar')?.after(banner);
  let timer;
  async function poll() {
    clearTimeout(timer);
    try {
      const { agents } = await gql(AGENT_HEALTH);
      const beats = agents.map((a) => a.lastHeartbeatAt).filter((t) => t != null);
      const next = {
        known: true,
        healthy: agents.filter((a) => a.healthy).length,
        total: agents.length,
        lastHeartbeatAt: beats.length ? Math.max(...beats) : undefined,
      };
      const changed = next.healthy !== state.healthy || next.total !== state.total || !state.known;
      state = next;
      const msg = healthMessage(state);
      banner.hidden = !msg;
      if (msg) mount(banner, h('strong', {}, 'Agents: '), msg, ' ', h('a', { href: '/agents' }, 'Agents →'));
      if (changed) for (const fn of listeners) fn(state);
    } catch {
      // Signed out or the control plane is away: the page itself reports that.
    }
    timer = setTimeout(() => void poll(), REFRESH_MS);
  }
  void poll();
}
