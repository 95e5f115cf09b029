// What every fault case checks about its runs: the right terminal status, one public sequence
// 1..N without gap over all events (ENGINE events included) in which the worker events appear in
// worker-seq order, worker seqs 1..M (none lost, none repeated) that are exactly the run's spool file (plus
// the agent's own ENGINE + terminal pair when the worker could not write one), exactly one
// spawned run worker, and stored stdout identical to the run's spool file. Given a StoreView,
// also the database rows: one run row whose last_seq is the event count, the expected work
// items all COMPLETED, and stdout chunks that tile the spool's bytes.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import type { StoreView } from './store-view.js';
import type { AgentProcess, ControlPlaneProcess } from '../../support/outpost-processes.js';
import { until } from '../../support/wait.js';
import { runWorkflowId } from '../../../src/shared/workflow-contract.js';

export interface RunEventView {
  seq: number;
  /** The run worker's seq; null for events the control plane wrote. */
  workerSeq: number | null;
  type: string;
  message: string | null;
}

export async function launch(
  cp: ControlPlaneProcess,
  job: string,
  runConfig: Record<string, unknown>,
  location = 'hello',
): Promise<string> {
  const r = await cp.gql<{ launchRun: { id: string } }>(
    `mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }`,
    {
      i: { location, job, runConfig },
    },
  );
  return r.launchRun.id;
}

export async function runStatus(cp: ControlPlaneProcess, id: string): Promise<string> {
  return (await cp.gql<{ run: { status: string } }>(`query($id: ID!) { run(id: $id) { status } }`, { id })).run.status;
}

export async function runEvents(cp: ControlPlaneProcess, id: string): Promise<RunEventView[]> {
  const out: RunEventView[] = [];
  let after = 0;
  for (let i = 0; i < 1_000; i++) {
    const r = await cp.gql<{ run: { events: RunEventView[] } }>(
      `query($id: ID!, $a: Int!) { run(id: $id) { events(afterSeq: $a, first: 1000) { seq workerSeq type message } } }`,
      { id, a: after },
    );
    if (!r.run.events.length) break;
    out.push(...r.run.events);
    after = r.run.events[r.run.events.length - 1]!.seq;
  }
  return out;
}

export async function storedStdout(cp: ControlPlaneProcess, id: string): Promise<{ data: string; truncated: boolean }> {
  let data = '';
  let offset = 0;
  let truncated = false;
  for (let i = 0; i < 10_000; i++) {
    const r = await cp.gql<{ run: { computeLogs: { data: string; nextOffset: number; truncated: boolean } } }>(
      `query($id: ID!, $o: Float!) { run(id: $id) { computeLogs(stream: STDOUT, afterOffset: $o) { data nextOffset truncated } } }`,
      { id, o: offset },
    );
    const c = r.run.computeLogs;
    truncated = c.truncated;
    data += c.data;
    if (c.nextOffset <= offset) break;
    offset = c.nextOffset;
  }
  return { data, truncated };
}

export async function waitTerminal(
  cp: ControlPlaneProcess,
  ids: string[],
  timeoutMs = 180_000,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await until(
    `${ids.length} runs terminal`,
    async () => {
      for (const id of ids) {
        if (out.has(id)) continue;
        const s = await runStatus(cp, id);
        if (['SUCCESS', 'FAILURE', 'CANCELED'].includes(s)) out.set(id, s);
      }
      return out.size === ids.length;
    },
    timeoutMs,
    500,
  );
  return out;
}

/** Asserts the run's invariants and returns a one-line summary for the case's printout. */
export async function checkRun(
  cp: ControlPlaneProcess,
  agent: AgentProcess,
  id: string,
  expect: {
    status: string;
    userEvents?: number;
    terminalType?: string;
    stdout?: boolean;
    /** Check the run's database rows too, expecting these work items (kind -> count). */
    store?: { view: StoreView; items: Record<string, number> };
  },
): Promise<string> {
  const status = await runStatus(cp, id);
  const events = await runEvents(cp, id);
  const story = events
    .map((e) => `${e.seq} ${e.type}${e.message ? `: ${e.message}` : ''}`)
    .slice(-8)
    .join(' | ');
  assert.equal(status, expect.status, `run ${id} status; last events: ${story}`);
  events.forEach((e, i) => assert.equal(e.seq, i + 1, `run ${id}: public seq ${i + 1} missing (found ${e.seq})`));
  const user = events.filter((e) => e.workerSeq !== null);
  user.forEach((e, i) =>
    assert.equal(
      e.workerSeq,
      i + 1,
      `run ${id}: worker seq ${i + 1} lost, repeated or out of order (found ${e.workerSeq})`,
    ),
  );
  if (expect.userEvents !== undefined) assert.equal(user.length, expect.userEvents, `run ${id}: user events`);
  if (expect.terminalType)
    assert.equal(
      user[user.length - 1]?.type ?? events.find((e) => e.type === expect.terminalType)?.type,
      expect.terminalType,
      `run ${id}: terminal event`,
    );
  const spooled = spoolEvents(agent, id);
  const extra = user.slice(spooled.length);
  assert.deepEqual(
    user.slice(0, spooled.length).map((e) => `${e.workerSeq} ${e.type}`),
    spooled.map((e) => `${e.seq} ${e.type}`),
    `run ${id}: stored events differ from the spool; ${divergence(user, spooled)}; ${describeRunDir(agent, id)}`,
  );
  // Beyond the spool only the agent's ending of a worker that could not end the run itself.
  const agentEnded = extra.length === 2 && extra[0]!.type === 'ENGINE' && /^RUN_/.test(extra[1]!.type);
  if (extra.length > 0 && !agentEnded)
    assert.fail(
      `run ${id}: events beyond the spool: ${extra.map((e) => e.type).join(',')}; ${describeRunDir(agent, id)}`,
    );
  const spawns = agent.spawnCount(id);
  assert.equal(spawns, 1, `run ${id}: spawned ${spawns} times`);
  if (expect.stdout !== false) {
    // The status is derived from the terminal event, which can be stored before the last log
    // chunk: wait (bounded) until the shipper has delivered as many bytes as the spool holds.
    const spool = readFileSync(agent.spoolFile(id, 'stdout.log'), 'utf8');
    const stored = await until(
      `run ${id} stdout fully stored`,
      async () => {
        const s = await storedStdout(cp, id);
        return s.data.length >= spool.length ? s : undefined;
      },
      60_000,
      250,
    );
    assert.equal(stored.data, spool, `run ${id}: stored stdout differs from the spool file`);
  }
  let rows = '';
  if (expect.store) {
    const r = expect.store.view.rowCounts(id);
    assert.equal(r.run.status, expect.status, `run ${id}: status row`);
    assert.equal(r.userEvents, user.length, `run ${id}: run_events rows`);
    assert.equal(r.engineEvents, events.length - user.length, `run ${id}: engine event rows`);
    assert.equal(Number(r.run.last_seq), user.length, `run ${id}: runs.last_seq`);
    assert.equal(Number(r.run.event_seq), events.length, `run ${id}: runs.event_seq`);
    const kinds: Record<string, number> = {};
    for (const item of r.items) {
      kinds[item.kind] = (kinds[item.kind] ?? 0) + 1;
      assert.equal(item.status, 'COMPLETED', `run ${id}: ${item.kind} item ${item.id}`);
      if (item.kind === 'LAUNCH_RUN')
        assert.equal(item.workflow_id, runWorkflowId(id), `run ${id}: launch workflow id`);
    }
    assert.deepEqual(kinds, expect.store.items, `run ${id}: work items by kind`);
    const spoolBytes = statSync(agent.spoolFile(id, SPOOL_FILES.stdout)).size;
    assert.equal(r.stdoutBytes, spoolBytes, `run ${id}: stored stdout chunk bytes`);
    assert.equal(Number(r.run.stdout_bytes), spoolBytes, `run ${id}: runs.stdout_bytes`);
    const attempts = r.items.map((i) => i.attempts).join('/');
    rows = `; rows: 1 run, ${r.items.length} work item(s) COMPLETED (claims ${attempts}), ${r.userEvents}+${r.engineEvents} events, ${r.stdoutChunks} stdout chunk(s)`;
  }
  return `${id} ${status}, seqs 1..${user.length} contiguous (${spooled.length} spooled), ${events.length - user.length} engine events, spawned once${rows}`;
}

/** The events the run worker wrote to its spool (complete lines only). */
export function spoolEvents(agent: AgentProcess, id: string): Array<{ seq: number; type: string }> {
  const file = agent.spoolFile(id, SPOOL_FILES.events);
  if (!existsSync(file)) return [];
  const out: Array<{ seq: number; type: string }> = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as { seq: number; type: string };
      out.push({ seq: e.seq, type: e.type });
    } catch {
      // A torn last line of a killed worker is not an event.
    }
  }
  return out;
}

/**
 * Where the stored worker events leave the spool, with the stored events' messages from there on
 * (an agent-written ENGINE event says which path ended the run) and the spool's count there.
 */
function divergence(user: RunEventView[], spooled: Array<{ seq: number; type: string }>): string {
  const at = user.findIndex((e, i) => spooled[i]?.type !== e.type || spooled[i]?.seq !== e.workerSeq);
  if (at < 0) return `stored ${user.length} worker events, spool ${spooled.length}`;
  const stored = user
    .slice(Math.max(0, at - 1), at + 3)
    .map((e) => `${e.workerSeq} ${e.type}${e.message ? `: ${e.message}` : ''}`)
    .join(' | ');
  const spool = spooled
    .slice(Math.max(0, at - 1), at + 3)
    .map((e) => `${e.seq} ${e.type}`)
    .join(' | ');
  const last = spooled[spooled.length - 1];
  return `first difference at worker seq ${at + 1}: stored ${stored}; spool ${spool} … ${spooled.length} lines, last ${last ? `${last.seq} ${last.type}` : 'none'}`;
}

/**
 * What the run's directory holds, for a failure message: each entry with its size (and the
 * small records' text), so a spool found short says whether it was missing, empty or replaced.
 */
function describeRunDir(agent: AgentProcess, id: string): string {
  const dir = dirname(agent.spoolFile(id, SPOOL_FILES.events));
  const runDir = dirname(dir);
  const list = (d: string): string => {
    try {
      return readdirSync(d)
        .map((name) => {
          const st = statSync(join(d, name), { throwIfNoEntry: false });
          if (!st) return `${name} (gone)`;
          if (st.isDirectory()) return `${name}/`;
          const small = st.size <= 400 && !name.endsWith('.log') && !name.endsWith('.jsonl');
          return `${name} ${st.size} B${small ? ` ${readFileSync(join(d, name), 'utf8').trim()}` : ''}`;
        })
        .join(', ');
    } catch (err) {
      return `unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    }
  };
  return `run directory: [${list(runDir)}]; spool: [${list(dir)}]`;
}
