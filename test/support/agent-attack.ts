// What the agent-API attack tests (test/integration/attacks/agent-*.test.ts) share: a GraphQL
// call whose answer comes back as sent (errors included, for the refusals), the snapshot of every
// table a refusal must leave as it was, and agent A's legitimate work built through the real
// agent API: it registers, syncs `hello` and reports it LOADED, then launches a run of it.
import assert from 'node:assert/strict';
import type { ControlPlane } from '../../src/control-plane/index.js';
import { STORE_TABLES } from '../../src/control-plane/store/schema.js';
import { runWorkflowId, workItemWorkflowId } from '../../src/shared/workflow-contract.js';
import { SNAPSHOT } from './control-plane-harness.js';
import type { Vars } from './graphql-call.js';

export type { Vars } from './graphql-call.js';

export interface Answer<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; hint?: string } }[];
}

/** A worker's run event as an agent ships it. */
export const ev = (seq: number, type: string, message = `worker event ${seq}`) => ({
  seq,
  type,
  timestamp: 1_000 + seq,
  message,
});
export const b64 = (s: string) => Buffer.from(s).toString('base64');

/** One GraphQL POST to `cp` with a bearer token; the answer as sent, errors included. */
export async function answerOf<T = Record<string, unknown>>(
  cp: Pick<ControlPlane, 'url'>,
  path: '/graphql' | '/agent/graphql',
  token: string,
  query: string,
  variables: Vars = {},
): Promise<Answer<T>> {
  const res = await fetch(cp.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as Answer<T>;
}

/** The answer's data; throws with its errors when it has any. */
export function ok<T>(r: Answer<T>): T {
  if (r.errors || !r.data) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

/**
 * Every row of every table as one text to compare, tokens without last_used_at (which any
 * request may touch), leaving out the rows `skip` names.
 */
export async function tableRows(
  cp: Pick<ControlPlane, 'store'>,
  skip: (table: string, row: Record<string, unknown>) => boolean = () => false,
): Promise<string> {
  const all: Record<string, string[]> = {};
  for (const t of STORE_TABLES) {
    const r = (await cp.store.db.selectFrom(t).selectAll().execute()) as Record<string, unknown>[];
    all[t] = r
      .filter((row) => !skip(t, row))
      .map((row) => {
        const copy: Record<string, unknown> = { ...row };
        delete copy.last_used_at;
        for (const [k, v] of Object.entries(copy)) if (Buffer.isBuffer(v)) copy[k] = v.toString('base64');
        return JSON.stringify(copy, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
      })
      .sort();
  }
  return JSON.stringify(all);
}

/** The documents A's set-up sends. */
const Q = {
  register: `mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agentId } }`,
  claim: `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { id kind runId } }`,
  ack: `mutation($a: ID!, $i: ID!, $w: String!) { ackWork(agentId: $a, id: $i, workflowId: $w) { id } }`,
  report: `mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }`,
  launched: `mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r, info: { pid: 1 }) }`,
  append: `mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { highestContiguousSeq status } }`,
  logs: `mutation($a: ID!, $r: ID!, $d: String!) { appendComputeLogs(agentId: $a, runId: $r, stream: STDOUT, offset: 0, data: $d) { storedBytes } }`,
  deploy: `mutation { deployCodeLocation(input: { name: "hello", module: "examples/hello/definitions.ts" }) { version } }`,
  launch: `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`,
};

/** An agent as the set-up drives it: its token and the agent id it registered. */
export interface AttackAgent {
  token: string;
  agent: string;
}

/** Registers an agent named `name` with `token` (task queue `q-<name>`); its agent id. */
export async function registerAgent(cp: Pick<ControlPlane, 'url'>, token: string, name: string): Promise<string> {
  const i = { name, hostname: 'h', version: '0', taskQueue: `q-${name}` };
  const r = ok(await answerOf<{ registerAgent: { agentId: string } }>(cp, '/agent/graphql', token, Q.register, { i }));
  return r.registerAgent.agentId;
}

/** `hello` deployed (with `userToken`), its sync claimed and acked by `a`, reported LOADED; its version and sync item. */
export async function syncHello(
  cp: Pick<ControlPlane, 'url'>,
  userToken: string,
  a: AttackAgent,
): Promise<{ version: number; syncItem: string }> {
  const asA = <T>(q: string, v: Vars) => answerOf<T>(cp, '/agent/graphql', a.token, q, v);
  const { version } = ok(
    await answerOf<{ deployCodeLocation: { version: number } }>(cp, '/graphql', userToken, Q.deploy),
  ).deployCodeLocation;
  const [sync] = ok(await asA<{ claimWork: { id: string; kind: string }[] }>(Q.claim, { a: a.agent })).claimWork;
  assert.equal(sync?.kind, 'SYNC_CODE_LOCATION');
  ok(await asA(Q.ack, { a: a.agent, i: sync.id, w: workItemWorkflowId(sync.id) }));
  const loaded = { agentId: a.agent, location: 'hello', version, status: 'LOADED', snapshot: SNAPSHOT };
  assert.equal(ok(await asA<{ reportCodeLocation: boolean }>(Q.report, { i: loaded })).reportCodeLocation, true);
  return { version, syncItem: sync.id };
}

/**
 * A run of hello launched (with `userToken`), claimed, acked and reported launched by `a`, which
 * ships the worker's first events (1 RUN_START, 2 LOG) and, given `stdout`, its first bytes.
 */
export async function launchedRun(
  cp: Pick<ControlPlane, 'url'>,
  userToken: string,
  a: AttackAgent,
  stdout?: string,
): Promise<{ runId: string; itemId: string }> {
  const asA = <T>(q: string, v: Vars) => answerOf<T>(cp, '/agent/graphql', a.token, q, v);
  const runId = ok(await answerOf<{ launchRun: { id: string } }>(cp, '/graphql', userToken, Q.launch)).launchRun.id;
  const [launch] = ok(
    await asA<{ claimWork: { id: string; runId: string | null }[] }>(Q.claim, { a: a.agent }),
  ).claimWork;
  assert.equal(launch?.runId, runId);
  ok(await asA(Q.ack, { a: a.agent, i: launch.id, w: runWorkflowId(runId) }));
  assert.equal(
    ok(await asA<{ reportRunLaunched: string }>(Q.launched, { a: a.agent, r: runId })).reportRunLaunched,
    'STARTING',
  );
  const first = ok(
    await asA<{ appendRunEvents: unknown }>(Q.append, { a: a.agent, r: runId, e: [ev(1, 'RUN_START'), ev(2, 'LOG')] }),
  );
  assert.deepEqual(first.appendRunEvents, { highestContiguousSeq: 2, status: 'STARTED' });
  if (stdout !== undefined) ok(await asA(Q.logs, { a: a.agent, r: runId, d: b64(stdout) }));
  return { runId, itemId: launch.id };
}
