// The five moments of the issue at which the fault suite kill -9s the agent, each reached by
// observing real state (never by sleeping a guessed time). Each moment says how it is reached
// and returns what it saw at the instant before the kill, which the case prints:
//   at claim            the control plane CLAIMED every item for the agent; the claim's answer
//                       is held by the gate, so no workflow exists.
//   after start, no ack one claim took every item; every workflow exists and the agent sent
//                       its acks (ackWork, or riding on its next claimWork), held by the gate;
//                       no item is ACKED.
//   mid-launch          every run worker is spawned (intent.json, spawns.log) but its launch is
//                       not reported (reportRunLaunchedWithEvents held): runs QUEUED, no event
//                       stored.
//   waiting for a boot  the agent's boot cap (2) lets two workers boot while the other runs wait
//   slot                for a slot: at least one spawned (spawns.log) and at least three whose
//                       launch began (run directory; config.json when cold) with no intent.json
//                       (nothing of their spawn recorded).
//   mid-supervise       every run STARTED, events stored and growing, none finished (drip runs
//                       wait for a release file the case creates only after the restart).
//   mid-termination     every run CANCELING (none finished) and at least one worker received
//                       SIGTERM and is still alive, cleaning up; printed: how many terminate
//                       signals were delivered (TERMINATE_RUN item COMPLETED) and the split of
//                       the other workers (awaiting SIGTERM, cleaning up, exited).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NamespaceNotFoundError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { hasIntent, readProcessRecord, runDir as recordsRunDir } from '../../../src/agent/launchers/run-records.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import type { AgentApiGate, AgentCall } from './agent-api-gate.js';
import { TERMINATION_RECEIVED } from './fault-location.js';
import type { StoreView } from './store-view.js';
import type { AgentProcess, ControlPlaneProcess } from '../../support/outpost-processes.js';
import { until } from '../../support/wait.js';
import { runWorkflowId } from '../../../src/shared/workflow-contract.js';

export interface MomentContext {
  cp: ControlPlaneProcess;
  agent: AgentProcess;
  gate: AgentApiGate;
  view: StoreView;
  temporal: Client;
}

export interface AgentKillMoment {
  name: string;
  /** Terminal status every run must reach. */
  expect: 'SUCCESS' | 'CANCELED';
  /** Release the drip runs after the restart (not when they are to be canceled). */
  release: boolean;
  /** Work items each run ends with (kind -> count). */
  items: Record<string, number>;
  /** How long a terminated drip worker goes on cleaning up (the fixture's cleanupMs); default 4 s. */
  cleanupMs?: number;
  /** Before the launches: set the gate's holds. */
  arm?(ctx: MomentContext): Promise<void>;
  /** After the launches: act, then wait until the moment is reached; returns what was seen. */
  reach(ctx: MomentContext, ids: string[]): Promise<string>;
}

/** Tight, bounded polling for the moments: a marker is seen within ~10 ms of appearing. */
const TIGHT_MS = 10;
const REACH_TIMEOUT_MS = 120_000;

export type WorkerState = 'not spawned' | 'alive' | 'exited';

/** The run worker recorded in runs/<id>/process.json: alive (not a zombie), exited, or none yet. */
export function workerState(agent: AgentProcess, runId: string): WorkerState {
  const pid = readProcessRecord(runDir(agent, runId))?.pid;
  if (pid === undefined) return 'not spawned';
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z') ? 'exited' : 'alive';
  } catch {
    return 'exited';
  }
}

export function runDir(agent: AgentProcess, runId: string): string {
  return recordsRunDir(agent.opts.dataDir, runId);
}

/** How many of `ids` have a Temporal workflow `run-<id>` (of any status). */
export async function workflowsExisting(temporal: Client, ids: string[]): Promise<number> {
  const found = await Promise.all(
    ids.map(async (id) => {
      try {
        await temporal.workflow.getHandle(runWorkflowId(id)).describe();
        return true;
      } catch (err) {
        // Not there yet. A dev server under load can also answer a describe with its namespace
        // not found for a moment (its namespace cache): the caller polls again, bounded.
        if (err instanceof WorkflowNotFoundError || err instanceof NamespaceNotFoundError) return false;
        throw err;
      }
    }),
  );
  return found.filter(Boolean).length;
}

/** "STARTED×12 QUEUED×8": a multiset of states, for printouts. */
export function tally(states: Iterable<string>): string {
  const n = new Map<string, number>();
  for (const s of states) n.set(s, (n.get(s) ?? 0) + 1);
  return [...n].map(([s, k]) => `${s}×${k}`).join(' ');
}

function statuses(view: StoreView, ids: string[]): string[] {
  const runs = view.runs(ids);
  return ids.map((id) => runs.get(id)?.status ?? 'MISSING');
}

/**
 * Runs whose `op` call the agent has made while the gate held every such call: made, never
 * delivered. Counted over the whole case (a held call the agent timed out and retried counts
 * once), so the condition does not flicker while a retry is in its backoff.
 */
function sentNeverDelivered(gate: AgentApiGate, op: string, key: string): Set<string> {
  const calls = gate.calls(op);
  if (calls.some((c) => c.forwarded)) throw new Error(`a ${op} call reached the control plane`);
  return new Set(calls.map((c) => String(c.call.variables[key])));
}

const atClaim: AgentKillMoment = {
  name: 'at claim',
  expect: 'SUCCESS',
  release: true,
  items: { LAUNCH_RUN: 1 },
  async arm({ gate }) {
    gate.holdRequests((c) => c.op === 'claimWork');
    gate.holdResponses((c, body) => c.op === 'claimWork' && hasClaimedItems(body));
    // The agent's current long-poll would claim the first launch alone: end it (nothing is
    // queued), so its next poll waits at the gate until all runs are queued.
    gate.interruptClaims();
    await until('the agent polls into the gate', () => gate.held('claimWork').requests.length === 1, 30_000, TIGHT_MS);
  },
  async reach({ gate, view, temporal }, ids) {
    await until('all runs queued', () => view.workItems(ids, 'LAUNCH_RUN').length === ids.length, 30_000, TIGHT_MS);
    gate.releaseRequests('claimWork');
    const items = await until(
      'one claim took every item',
      () => {
        const rows = view.workItems(ids, 'LAUNCH_RUN');
        return rows.every((r) => r.status === 'CLAIMED' && r.lease_owner) && gate.held('claimWork').responses.length
          ? rows
          : undefined;
      },
      REACH_TIMEOUT_MS,
      TIGHT_MS,
    );
    // The agent never saw the claim, so it cannot have started anything; proven below too.
    const workflows = await workflowsExisting(temporal, ids);
    if (workflows !== 0) throw new Error(`at claim: ${workflows} run workflows exist before the kill`);
    return `items ${tally(items.map((r) => r.status))} (lease ${items[0]!.lease_owner}), claim answer held, run workflows 0, runs ${tally(statuses(view, ids))}`;
  },
};

function hasClaimedItems(body: unknown): boolean {
  const items = (body as { data?: { claimWork?: unknown[] } } | undefined)?.data?.claimWork;
  return Array.isArray(items) && items.length > 0;
}

/**
 * The work-item acks in an agent call: an ackWork, or the acks a claimWork carries (the poller
 * may send its acks with its next claim).
 */
function acksIn(call: AgentCall): string[] {
  if (call.op === 'ackWork') return [String(call.variables.workflowId)];
  if (call.op !== 'claimWork' || !Array.isArray(call.variables.acks)) return [];
  return (call.variables.acks as Array<{ workflowId?: unknown }>).map((a) => String(a.workflowId));
}

/** Workflow ids the agent has sent acks for, failing if any ack reached the control plane. */
function acksSentNeverDelivered(gate: AgentApiGate): Set<string> {
  const sent = new Set<string>();
  for (const { call, forwarded } of [...gate.calls('ackWork'), ...gate.calls('claimWork')]) {
    const acks = acksIn(call);
    if (forwarded && acks.length) throw new Error(`an ack reached the control plane: ${acks.join(',')}`);
    for (const a of acks) sent.add(a);
  }
  return sent;
}

// The runs are claimed by ONE claim (as at claim), so that holding the acks, which may ride on
// the agent's next claim, never keeps a run unclaimed.
let claimReleased = false;
const afterStartBeforeAck: AgentKillMoment = {
  name: 'after workflow start, before ack',
  expect: 'SUCCESS',
  release: true,
  items: { LAUNCH_RUN: 1 },
  // The poller acks only once workflow.start returned, so a sent ack proves the workflow exists.
  async arm({ gate }) {
    claimReleased = false;
    gate.holdRequests((c) => acksIn(c).length > 0 || (c.op === 'claimWork' && !claimReleased));
    gate.interruptClaims();
    await until('the agent polls into the gate', () => gate.held('claimWork').requests.length === 1, 30_000, TIGHT_MS);
  },
  async reach({ gate, view, temporal }, ids) {
    await until('all runs queued', () => view.workItems(ids, 'LAUNCH_RUN').length === ids.length, 30_000, TIGHT_MS);
    claimReleased = true;
    gate.releaseRequests('claimWork');
    await untilSeen(
      'every run ack sent and held',
      async () => {
        const sent = acksSentNeverDelivered(gate);
        return `acks sent for ${ids.filter((id) => sent.has(runWorkflowId(id))).length}/${ids.length} runs, items ${tally(view.workItems(ids, 'LAUNCH_RUN').map((r) => r.status))}, runs ${tally(statuses(view, ids))}, run workflows ${await workflowsExisting(temporal, ids)}, agent calls ${tally(gate.calls().map((c) => c.call.op))}`;
      },
      () => {
        const sent = acksSentNeverDelivered(gate);
        return ids.every((id) => sent.has(runWorkflowId(id))) || undefined;
      },
    );
    const items = view.workItems(ids, 'LAUNCH_RUN');
    const runs = statuses(view, ids);
    const workflows = await workflowsExisting(temporal, ids);
    if (workflows !== ids.length) throw new Error(`after start: only ${workflows} run workflows exist`);
    // Un-acked: CLAIMED, or QUEUED again if a lease ran out meanwhile (then re-claimed, re-held).
    if (items.some((r) => r.status !== 'CLAIMED' && r.status !== 'QUEUED'))
      throw new Error(`after start: items ${tally(items.map((r) => r.status))}`);
    const ackCalls = gate.calls().filter((c) => acksIn(c.call).length).length;
    return `run workflows ${workflows}/${ids.length}, acks sent for all ${ids.length} (in ${ackCalls} held calls) and none delivered, items ${tally(items.map((r) => r.status))}, runs ${tally(runs)}`;
  },
};

/** The agent's launch report (it carries a warm worker's first events too). */
const LAUNCH_REPORT = 'reportRunLaunchedWithEvents';

const midLaunch: AgentKillMoment = {
  name: 'mid-launch',
  expect: 'SUCCESS',
  release: true,
  items: { LAUNCH_RUN: 1 },
  arm({ gate }) {
    gate.holdRequests((c) => c.op === LAUNCH_REPORT);
    return Promise.resolve();
  },
  async reach({ gate, view, agent }, ids) {
    await until(
      'every launch report sent and held',
      () => {
        const sent = sentNeverDelivered(gate, LAUNCH_REPORT, 'runId');
        return ids.every((id) => sent.has(id));
      },
      REACH_TIMEOUT_MS,
      TIGHT_MS,
    );
    const runs = statuses(view, ids);
    const events = view.userEventCounts(ids);
    const spawned = ids.filter((id) => agent.spawnCount(id) === 1).length;
    const intents = ids.filter((id) => hasIntent(runDir(agent, id))).length;
    const stored = [...events.values()].reduce((a, b) => a + b, 0);
    if (spawned !== ids.length || runs.some((s) => s !== 'QUEUED') || stored !== 0) {
      throw new Error(`mid-launch: spawned ${spawned}, runs ${tally(runs)}, events stored ${stored}`);
    }
    return `intent.json ${intents}/${ids.length}, spawns.log ${spawned}/${ids.length}, workers ${tally(ids.map((id) => workerState(agent, id)))}, ${LAUNCH_REPORT} sent for ${ids.length} (${gate.calls(LAUNCH_REPORT).length} calls) and none delivered, runs ${tally(runs)}, events stored 0`;
  },
};

const waitingForBootSlot: AgentKillMoment = {
  name: 'waiting for a boot slot',
  expect: 'SUCCESS',
  release: true,
  items: { LAUNCH_RUN: 1 },
  async reach({ view, agent }, ids) {
    // Its launch began (the run's directory; config.json too for a cold spawn, none for a run
    // waiting on a booting standby) and nothing of its spawn is recorded (no intent.json).
    const waiting = (id: string): boolean => existsSync(runDir(agent, id)) && !hasIntent(runDir(agent, id));
    const seen = await until(
      'runs spawned and runs waiting for a boot slot',
      () => {
        const spawned = ids.filter((id) => agent.spawnCount(id) === 1).length;
        const queued = ids.filter(waiting).length;
        return spawned >= 1 && queued >= 3 ? { spawned, queued } : undefined;
      },
      REACH_TIMEOUT_MS,
      TIGHT_MS,
    );
    return `spawns.log ${seen.spawned}/${ids.length}, waiting for a boot slot or a standby (run directory, no intent.json) ${seen.queued}, workers ${tally(ids.map((id) => workerState(agent, id)))}, runs ${tally(statuses(view, ids))}`;
  },
};

const midSupervise: AgentKillMoment = {
  name: 'mid-supervise',
  expect: 'SUCCESS',
  release: true,
  items: { LAUNCH_RUN: 1 },
  async reach({ view }, ids) {
    const runs = await until(
      'every run STARTED',
      () => {
        const s = statuses(view, ids);
        return s.every((x) => x === 'STARTED') ? s : undefined;
      },
      REACH_TIMEOUT_MS,
      TIGHT_MS,
    );
    // Flowing: every run has more events stored than when all were first seen STARTED.
    const base = view.userEventCounts(ids);
    const counts = await until(
      'events flowing for every run',
      () => {
        const c = view.userEventCounts(ids);
        return ids.every((id) => c.get(id)! > base.get(id)!) ? c : undefined;
      },
      REACH_TIMEOUT_MS,
      TIGHT_MS,
    );
    const after = statuses(view, ids);
    if (after.some((x) => x !== 'STARTED')) throw new Error(`mid-supervise: runs ${tally(after)}`);
    const n = ids.map((id) => counts.get(id)!);
    return `runs ${tally(runs)}, stored events per run ${Math.min(...n)}..${Math.max(...n)} and growing, none finished`;
  },
};

const midTermination: AgentKillMoment = {
  name: 'mid-termination',
  expect: 'CANCELED',
  release: false,
  items: { LAUNCH_RUN: 1, TERMINATE_RUN: 1 },
  // The moment needs every run CANCELING while one worker cleans up: the first worker signalled
  // must still be cleaning up when the last run is asked to terminate. With 4 s and the calls one
  // after another, a fresh-clone CI at load ~14 saw every run CANCELED at its first look (the
  // agent signals at once; the 20 terminateRun calls took longer than the clean-up). The calls now
  // go at once, and 6 s (60 beats) stays inside the termination's 10 s grace before SIGKILL.
  cleanupMs: 6_000,
  async reach(ctx, ids) {
    const { cp, view, agent } = ctx;
    await midSupervise.reach(ctx, ids);
    await Promise.all(ids.map((id) => cp.gql(`mutation($id: ID!) { terminateRun(id: $id) { id } }`, { id })));
    const cleaningUp = (id: string): boolean => {
      try {
        return readFileSync(join(runDir(agent, id), 'spool', SPOOL_FILES.stdout), 'utf8').includes(
          TERMINATION_RECEIVED,
        );
      } catch {
        return false;
      }
    };
    let last = '';
    const seen = await untilSeen(
      'signals delivered and a worker cleaning up',
      () => last,
      () => {
        const runs = statuses(view, ids);
        const delivered = view.workItems(ids, 'TERMINATE_RUN').filter((r) => r.status === 'COMPLETED').length;
        const workers = ids.map((id) => {
          const w = workerState(agent, id);
          return w === 'alive' ? (cleaningUp(id) ? 'SIGTERM received, alive' : 'awaiting SIGTERM, alive') : w;
        });
        last = `runs ${tally(runs)}, signals delivered ${delivered}, workers ${tally(workers)}`;
        // No run can be CANCELED before a worker has cleaned up for cleanupMs after its SIGTERM,
        // so the first worker seen cleaning up is seen with every run still CANCELING.
        return runs.every((s) => s === 'CANCELING') && workers.includes('SIGTERM received, alive')
          ? { runs, delivered, workers }
          : undefined;
      },
    );
    return `runs ${tally(seen.runs)}, terminate signals delivered ${seen.delivered}/${ids.length}, workers ${tally(seen.workers)}`;
  },
};

/** `until`, whose timeout says what was last seen (`state()`), so a missed moment is explained. */
async function untilSeen<T>(
  what: string,
  state: () => string | Promise<string>,
  fn: () => T | undefined,
  timeoutMs = REACH_TIMEOUT_MS,
): Promise<T> {
  try {
    return await until(what, fn, timeoutMs, TIGHT_MS);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${await state()}`);
  }
}

/** Executions Temporal holds for a workflow id (visibility is eventually consistent: wait for one). */
export async function executionsOf(temporal: Client, workflowId: string): Promise<number> {
  return until(
    `${workflowId} visible`,
    async () => {
      let n = 0;
      for await (const _ of temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) n++;
      return n > 0 ? n : undefined;
    },
    30_000,
    200,
  );
}

export const AGENT_KILL_MOMENTS: readonly AgentKillMoment[] = [
  atClaim,
  afterStartBeforeAck,
  midLaunch,
  waitingForBootSlot,
  midSupervise,
  midTermination,
];
