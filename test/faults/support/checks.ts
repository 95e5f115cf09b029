// What every fault case checks about its runs: the right terminal status, worker events with
// contiguous seqs 1..N (none lost, none repeated), exactly one spawned run worker, and stored
// stdout identical to the run's spool file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AgentProcess, ControlPlaneProcess } from './system.js';
import { until } from './system.js';

const ENGINE_SEQ_BASE = 1_000_000_000;

export interface RunEventView {
  seq: number;
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
      `query($id: ID!, $a: Int!) { run(id: $id) { events(afterSeq: $a, first: 1000) { seq type message } } }`,
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
      `query($id: ID!, $o: Float!) { run(id: $id) { computeLogs(stream: stdout, afterOffset: $o) { data nextOffset truncated } } }`,
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
  expect: { status: string; userEvents?: number; terminalType?: string; stdout?: boolean },
): Promise<string> {
  const status = await runStatus(cp, id);
  const events = await runEvents(cp, id);
  const story = events
    .map((e) => `${e.seq} ${e.type}${e.message ? `: ${e.message}` : ''}`)
    .slice(-8)
    .join(' | ');
  assert.equal(status, expect.status, `run ${id} status; last events: ${story}`);
  const user = events.filter((e) => e.seq < ENGINE_SEQ_BASE);
  user.forEach((e, i) => assert.equal(e.seq, i + 1, `run ${id}: seq ${i + 1} lost or repeated (found ${e.seq})`));
  if (expect.userEvents !== undefined) assert.equal(user.length, expect.userEvents, `run ${id}: user events`);
  if (expect.terminalType)
    assert.equal(
      user[user.length - 1]?.type ?? events.find((e) => e.type === expect.terminalType)?.type,
      expect.terminalType,
      `run ${id}: terminal event`,
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
  return `${id} ${status}, seqs 1..${user.length} contiguous, ${events.length - user.length} engine events, spawned once`;
}
