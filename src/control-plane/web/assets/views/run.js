// Run detail: header with actions, status timeline, the structured event log (live over
// SSE, with a polling fallback) filtered by step, and stdout/stderr tabs that tail live.
/* global document, setTimeout, clearTimeout, setInterval, clearInterval */
import { gql, subscribe } from '../api.js';
import { errorBox, fmtDuration, fmtTime, h, mount, runDuration, statusPill, TERMINAL, toast } from '../dom.js';
import { COMPUTE_LOGS, LAUNCH_RUN, RUN, RUN_EVENTS, RUN_EVENTS_SUB, TERMINATE_RUN } from '../queries.js';
import { renderTimeline } from './run-timeline.js';
import { eventRow } from './run-event-row.js';
import { isImplicitAssetJob } from './assets.js';
import { onAgentHealth } from './agent-health.js';
import { confirmDialog } from './confirm.js';
import { can } from '../roles.js';

const POLL_MS = 1000;
const EVENT_PAGE = 1000;
const MAX_LOG_CHARS = 2_000_000; // keep the page light; older output is dropped from view

export async function runView(main, { params, config, navigate }) {
  const id = params[0];
  const { run: initial } = await gql(RUN, { id });
  if (!initial) {
    mount(main, errorBox({ code: 'OUTPOST_ERR_UNKNOWN_RUN', message: `No run with id ${id}` }));
    return undefined;
  }
  let run = initial;
  let stopped = false;
  const timers = new Set();
  const events = [];
  let closeSub = () => {};
  let stepFilter = '';
  let typeFilter = '';

  // --- header
  const statusSlot = h('span', {});
  const durationSlot = h('span', { class: 'num' });
  const terminateBtn = h(
    'button',
    { class: 'btn btn-danger', id: 'terminate', onclick: () => void terminate() },
    'Terminate',
  );
  const temporalHref = `${config.temporalUiUrl}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows/${encodeURIComponent(`run-${id}`)}`;
  const facts = h('dl', { class: 'facts' });
  const timeline = h('div', { class: 'timeline', id: 'timeline' });
  // Why the run is not running: it never launched (its launch error), or it waits for an agent.
  const whySlot = h('div', {});
  let agentsHealthy = true;

  // --- tabs
  const stepSel = h(
    'select',
    {
      id: 'step-filter',
      'aria-label': 'Step',
      onchange: (e) => {
        stepFilter = e.target.value;
        renderEvents();
      },
    },
    h('option', { value: '' }, 'All steps'),
  );
  const typeSel = h(
    'select',
    {
      id: 'type-filter',
      'aria-label': 'Event type',
      onchange: (e) => {
        typeFilter = e.target.value;
        renderEvents();
      },
    },
    h('option', { value: '' }, 'All events'),
    h('option', { value: 'LOG' }, 'Logs only'),
    h('option', { value: 'ERRORS' }, 'Errors only'),
    h('option', { value: 'ASSETS' }, 'Asset events'),
  );
  const eventsBody = h('tbody', {});
  const eventsPane = h(
    'div',
    { class: 'pane', id: 'pane-events' },
    h('div', { class: 'filters' }, stepSel, typeSel),
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'table events-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Time', 'Type', 'Step', 'Message'].map((c) => h('th', {}, c)),
          ),
        ),
        eventsBody,
      ),
    ),
  );
  const logPanes = {};
  for (const stream of ['stdout', 'stderr']) {
    const pre = h('pre', { class: 'log', id: `log-${stream}` });
    logPanes[stream] = {
      pre,
      offset: 0,
      pane: h('div', { class: 'pane', id: `pane-${stream}`, hidden: true }, pre),
      done: false,
      chars: 0,
    };
  }
  const tabs = ['events', 'stdout', 'stderr'];
  const tabButtons = tabs.map((t) =>
    h(
      'button',
      {
        class: 'tab',
        role: 'tab',
        id: `tab-${t}`,
        'aria-selected': t === 'events' ? 'true' : 'false',
        onclick: () => selectTab(t),
      },
      t === 'events' ? 'Events' : t,
    ),
  );
  function selectTab(t) {
    tabButtons.forEach((b, i) => b.setAttribute('aria-selected', tabs[i] === t ? 'true' : 'false'));
    eventsPane.hidden = t !== 'events';
    for (const s of ['stdout', 'stderr']) logPanes[s].pane.hidden = t !== s;
  }

  mount(
    main,
    h('div', { class: 'crumbs' }, h('a', { href: '/runs' }, 'Runs'), ' / ', h('span', { class: 'mono' }, id)),
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, run.job, ' ', statusSlot),
      h('span', { class: 'topbar-spacer' }),
      h(
        'a',
        { class: 'btn', id: 'temporal-link', href: temporalHref, target: '_blank', rel: 'noopener noreferrer' },
        'Open in Temporal UI ↗',
      ),
      isImplicitAssetJob(run.job)
        ? h(
            'a',
            { class: 'btn', id: 'to-assets', href: `/locations/${encodeURIComponent(run.location)}/assets` },
            'Assets →',
          )
        : null,
      // The same job, config, tags and selection: a run of a few assets or ops is launched again with those.
      can('launchRun')
        ? h('button', { class: 'btn', id: 'relaunch', onclick: (e) => void relaunch(e.currentTarget) }, 'Launch again')
        : null,
      can('terminateRun') ? terminateBtn : null,
    ),
    h('div', { class: 'card' }, facts, whySlot, timeline),
    h(
      'div',
      { class: 'card' },
      h('div', { class: 'tabs', role: 'tablist' }, tabButtons),
      eventsPane,
      logPanes.stdout.pane,
      logPanes.stderr.pane,
    ),
  );

  function renderHeader() {
    mount(statusSlot, statusPill(run.status));
    durationSlot.textContent = fmtDuration(runDuration(run));
    terminateBtn.hidden = TERMINAL.has(run.status);
    terminateBtn.disabled = run.status === 'CANCELING';
    const row = (k, v) => h('div', { class: 'fact' }, h('dt', {}, k), h('dd', {}, v));
    mount(
      facts,
      row('Run id', h('span', { class: 'mono' }, run.id)),
      row('Location', h('a', { href: `/locations/${encodeURIComponent(run.location)}` }, run.location)),
      row(
        'Job',
        h('a', { href: `/locations/${encodeURIComponent(run.location)}/jobs/${encodeURIComponent(run.job)}` }, run.job),
      ),
      run.assetSelection?.length
        ? row('Assets', h('span', { class: 'mono', id: 'run-assets' }, run.assetSelection.join(', ')))
        : null,
      run.opSelection?.length
        ? row('Ops', h('span', { class: 'mono', id: 'run-ops' }, run.opSelection.join(', ')))
        : null,
      row('Created', fmtTime(run.createdAt)),
      row('Started', fmtTime(run.startedAt)),
      row('Ended', fmtTime(run.endedAt)),
      row('Duration', durationSlot),
      run.agentId ? row('Agent', h('span', { class: 'mono' }, run.agentId)) : null,
      Object.keys(run.tags ?? {}).length
        ? row(
            'Tags',
            Object.entries(run.tags).map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`)),
          )
        : null,
      run.runConfig && Object.keys(run.runConfig).length
        ? row('Config', h('code', {}, JSON.stringify(run.runConfig)))
        : null,
    );
    renderWhy();
    renderTimeline(timeline, run, events, Date.now(), { agentsHealthy });
  }

  function renderWhy() {
    if (run.launchError && TERMINAL.has(run.status)) {
      const e = run.launchError;
      mount(
        whySlot,
        h(
          'div',
          { class: 'error-box launch-error', id: 'launch-error', role: 'alert' },
          h('strong', {}, `Did not start · ${e.code}`),
          h('div', {}, e.message),
        ),
      );
    } else if (run.status === 'QUEUED') {
      mount(
        whySlot,
        h(
          'p',
          { class: 'muted', id: 'queued-hint' },
          agentsHealthy
            ? 'Queued: waiting for an agent to claim and launch it.'
            : 'Waiting for an agent: no agent is healthy, so this run cannot launch until one is back.',
        ),
      );
    } else whySlot.replaceChildren();
  }

  const typeMatches = (e) =>
    typeFilter === 'LOG'
      ? e.type === 'LOG'
      : typeFilter === 'ASSETS'
        ? e.type.startsWith('ASSET_')
        : e.error || e.level === 'error' || e.type.endsWith('FAILURE');
  const matches = (e) => (!stepFilter || e.stepKey === stepFilter) && (!typeFilter || typeMatches(e));

  function renderEvents() {
    eventsBody.replaceChildren(...events.filter(matches).map((e) => eventRow(e, run.location)));
    if (!eventsBody.children.length)
      eventsBody.append(
        h(
          'tr',
          {},
          h('td', { colspan: 4, class: 'empty' }, events.length ? 'No events match the filter.' : 'No events yet.'),
        ),
      );
  }

  // Events arrive from SSE and from polling; both are ordered, so dedupe by seq suffices.
  // One public seq per run (1..N, no gap, ENGINE events included), in the order events happened.
  let lastSeq = 0; // polling and the subscription resume here
  const seen = new Set();
  const bySeq = (a, b) => a.seq - b.seq;
  const knownSteps = new Set();
  function addEvents(batch) {
    const fresh = batch.filter((e) => !seen.has(e.seq)).sort(bySeq);
    if (!fresh.length) return;
    const last = events[events.length - 1];
    const appendOnly = last !== undefined && bySeq(fresh[0], last) > 0 && eventsBody.querySelector('td.empty') === null;
    for (const e of fresh) {
      seen.add(e.seq);
      events.push(e);
      lastSeq = Math.max(lastSeq, e.seq);
      if (e.stepKey && !knownSteps.has(e.stepKey)) {
        knownSteps.add(e.stepKey);
        stepSel.append(h('option', { value: e.stepKey }, e.stepKey));
      }
    }
    if (appendOnly) eventsBody.append(...fresh.filter(matches).map((e) => eventRow(e, run.location)));
    else {
      events.sort(bySeq);
      renderEvents();
    }
    renderTimeline(timeline, run, events, Date.now(), { agentsHealthy });
  }

  // Catches up in pages (a chatty run can have many thousands of events), bounded per tick.
  async function pollEvents() {
    for (let page = 0; page < 20 && !stopped; page++) {
      const before = lastSeq;
      const data = await gql(RUN_EVENTS, { id, afterSeq: lastSeq, first: EVENT_PAGE });
      if (!data.run) return;
      const { events: batch, ...fields } = data.run;
      run = { ...run, ...fields };
      addEvents(batch ?? []);
      renderHeader();
      if ((batch ?? []).length < EVENT_PAGE || lastSeq === before) return;
    }
  }

  async function pollLog(stream) {
    const pane = logPanes[stream];
    const data = await gql(COMPUTE_LOGS, { id, stream: stream.toUpperCase(), afterOffset: pane.offset });
    const chunk = data.run?.computeLogs;
    if (!chunk) return;
    if (chunk.data) {
      const atBottom = pane.pre.scrollTop + pane.pre.clientHeight >= pane.pre.scrollHeight - 8;
      pane.pre.append(document.createTextNode(chunk.data));
      pane.chars += chunk.data.length;
      while (pane.chars > MAX_LOG_CHARS && pane.pre.firstChild) {
        pane.chars -= pane.pre.firstChild.textContent.length;
        pane.pre.firstChild.remove();
      }
      if (atBottom) pane.pre.scrollTop = pane.pre.scrollHeight;
    }
    pane.offset = chunk.nextOffset ?? pane.offset + (chunk.data?.length ?? 0);
  }

  // Poll logs and run status; after the run ends, one last round then stop (logs may lag).
  let finalRounds = 2;
  async function tick() {
    if (stopped) return;
    try {
      await Promise.all([pollEvents(), pollLog('stdout'), pollLog('stderr')]);
    } catch (err) {
      if (err.code !== 'OUTPOST_ERR_UNAUTHENTICATED') toast(err.message, 'error');
    }
    if (TERMINAL.has(run.status)) finalRounds--;
    if (!stopped && finalRounds > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        void tick();
      }, POLL_MS);
      timers.add(t);
    }
  }

  // Same job, config and tags: the quickest way to retry after fixing something upstream.
  async function relaunch(btn) {
    btn.disabled = true;
    try {
      const input = { location: run.location, job: run.job, runConfig: run.runConfig ?? {}, tags: run.tags ?? {} };
      // Assets of the implicit asset job: the control plane picks their job again (a partitioned
      // one when the run has a partition; the implicit job has no partition set then).
      if (isImplicitAssetJob(run.job) && run.assetSelection?.length) delete input.job;
      if (run.assetSelection?.length) input.assetSelection = run.assetSelection;
      if (run.opSelection?.length) input.opSelection = run.opSelection;
      const data = await gql(LAUNCH_RUN, { input });
      toast(`Launched ${run.job} again`);
      navigate(`/runs/${encodeURIComponent(data.launchRun.id)}`);
    } catch (err) {
      btn.disabled = false;
      toast(err.message, 'error');
    }
  }

  async function terminate() {
    const ok = await confirmDialog({
      title: 'Terminate this run?',
      body: `The agent will send SIGTERM to run ${id}, then SIGKILL after a grace period. The run ends CANCELED.`,
      confirm: 'Terminate',
      danger: true,
    });
    if (!ok) return;
    terminateBtn.disabled = true;
    try {
      const data = await gql(TERMINATE_RUN, { id });
      if (data.terminateRun?.status) run = { ...run, status: data.terminateRun.status };
      toast('Termination requested');
      renderHeader();
    } catch (err) {
      terminateBtn.disabled = false;
      toast(err.message, 'error');
    }
  }

  renderHeader();
  renderEvents();
  const stopHealth = onAgentHealth((s) => {
    const healthy = !s.known || s.healthy > 0;
    if (healthy === agentsHealthy) return;
    agentsHealthy = healthy;
    renderHeader();
  });
  await tick();
  // Live events over SSE while the run is active; polling (above) keeps going as the fallback.
  if (!TERMINAL.has(run.status)) {
    closeSub = subscribe(RUN_EVENTS_SUB, { runId: id, afterSeq: lastSeq }, (d) => {
      const e = d.runEvents;
      addEvents(Array.isArray(e) ? e : e ? [e] : []);
    });
  }
  const clock = setInterval(() => {
    durationSlot.textContent = fmtDuration(runDuration(run));
  }, 1000);
  return () => {
    stopped = true;
    closeSub();
    stopHealth();
    clearInterval(clock);
    for (const t of timers) clearTimeout(t);
  };
}
