// The agent API (/agent/graphql): the SDL in agent.graphql (the one source; the agent's client
// types are generated from it) with resolvers over the store. Every call names an
// agentId and first checks that the agent is bound to the calling token (authorizeAgent); then
// an agent writes only its own work (store/ownership.ts, store/work-queue.ts): the runs whose
// launch it holds, the location versions its deployment was asked to sync, the items leased to it.
import { readFileSync } from 'node:fs';
import { createSchema } from 'graphql-yoga';
import type {
  MutationAckWorkArgs,
  MutationAppendComputeLogsArgs,
  MutationAppendRunEventsArgs,
  MutationAppendRunEventLinesArgs,
  MutationClaimWorkArgs,
  MutationCompleteWorkArgs,
  MutationFailWorkArgs,
  MutationHeartbeatArgs,
  MutationRegisterAgentArgs,
  MutationReportCodeLocationArgs,
  MutationReportRunLaunchedArgs,
  MutationReportRunLaunchedWithEventsArgs,
  QueryRunCursorArgs,
  QueryRunCursorsArgs,
  QueryWorkspaceArgs,
} from '../../gen/graphql/agent.js';
import { OutpostError } from '../../shared/errors.js';
import { checkHeartbeat } from '../core/input-rules.js';
import { authorizeAgent, heartbeat, noteCodeServer, registerAgent } from '../store/agents.js';
import { appendComputeLogs } from '../store/compute-logs.js';
import { listLocations, reportCodeLocation } from '../store/locations.js';
import {
  assertLocationReporter,
  assertRunWriter,
  assertRunWriters,
  heldRuns,
  servedLocations,
} from '../store/ownership.js';
import { appendRunEvents } from '../store/run-events.js';
import { getRuns, requireRun, type RunView } from '../store/runs.js';
import { ackWork } from '../store/work-queue.js';
import { claimWork, completeWork, failWork } from '../services/work-service.js';
import { authenticate } from '../http/auth.js';
import type { WorkItemView } from '../store/work-items.js';
import { reportRunLaunched } from '../services/runs-service.js';
import { checkBatch, type ApiContext } from './context.js';
import { ComputeLogStreamValues } from './enum-values.js';
import { JSONScalar } from './scalars.js';
import { countEventLines, parseEventLines } from './event-lines.js';

const AGENT_SDL = readFileSync(new URL('./agent.graphql', import.meta.url), 'utf8');

const workItem = (w: WorkItemView) => ({
  id: w.id,
  kind: w.kind,
  payload: w.payload,
  status: w.status,
  attempts: w.attempts,
  runId: w.runId,
  leaseExpiresAt: w.leaseExpiresAt,
});

/**
 * Standard, padded base64 only: Node's decoder skips what it cannot read, so the bytes must
 * encode back to exactly `data`. (A regex over a 1 MiB chunk cost ~6x the decode itself.)
 */
function decodeBase64(data: string): Buffer {
  const bytes = Buffer.from(data, 'base64');
  if (bytes.toString('base64') !== data) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: '`data` must be standard base64' });
  }
  return bytes;
}

/** What the control plane has of a run: the agent ships its spool from here. */
const cursorOf = (run: RunView) => ({
  runId: run.id,
  lastSeq: run.lastSeq,
  stdoutBytes: run.stdoutBytes,
  stderrBytes: run.stderrBytes,
  status: run.status,
  logsTruncated: run.logsTruncated,
});
type RunCursor = ReturnType<typeof cursorOf>;

async function runCursorOf(store: ApiContext['store'], runId: string): Promise<RunCursor> {
  return cursorOf(await requireRun(store.db, runId));
}

/** The cursors of the runs of `runIds` that exist, by run id, in one read. */
async function runCursorsOf(store: ApiContext['store'], runIds: readonly string[]): Promise<Map<string, RunCursor>> {
  const runs = await getRuns(store.db, runIds);
  return new Map([...runs].map(([id, run]) => [id, cursorOf(run)]));
}

/** A work item as answered; a claim's items share one read of their launches' cursors. */
type ItemAnswer = ReturnType<typeof workItem> & { claimCursors?: () => Promise<Map<string, RunCursor>> };

/**
 * The claimed items, whose launches' cursors (WorkItem.runCursor) are read once for all of
 * them, when the first is asked for: not one read per item, and none when no cursor is asked.
 */
function claimAnswer(store: ApiContext['store'], items: WorkItemView[]): ItemAnswer[] {
  const launches = items.flatMap((w) => (w.kind === 'LAUNCH_RUN' && w.runId ? [w.runId] : []));
  let read: Promise<Map<string, RunCursor>> | undefined;
  const claimCursors = () => (read ??= runCursorsOf(store, launches));
  return items.map((w) => ({ ...workItem(w), claimCursors }));
}

export function createAgentSchema() {
  return createSchema<ApiContext>({
    typeDefs: AGENT_SDL,
    resolvers: {
      JSON: JSONScalar,
      ComputeLogStream: ComputeLogStreamValues,
      WorkItem: {
        // Read after the claim leased the items: a failed read answers null (the launch then asks
        // runCursor itself) rather than an error that would make the agent drop what it claimed.
        runCursor: ({ kind, runId, claimCursors }: ItemAnswer, _: unknown, { store }: ApiContext) => {
          if (kind !== 'LAUNCH_RUN' || !runId) return null;
          const read = claimCursors ? claimCursors() : runCursorsOf(store, [runId]);
          return read.then(
            (cursors) => cursors.get(runId) ?? null,
            () => null,
          );
        },
      },
      Query: {
        async workspace(_: unknown, { agentId }: QueryWorkspaceArgs, { store, principal }: ApiContext) {
          await authorizeAgent(store, agentId, principal.id);
          return (await listLocations(store.db)).map((l) => ({ name: l.name, version: l.version, spec: l.spec }));
        },
        async runCursor(_: unknown, { agentId, runId }: QueryRunCursorArgs, { store, principal }: ApiContext) {
          await authorizeAgent(store, agentId, principal.id);
          await assertRunWriter(store.db, runId, agentId);
          return runCursorOf(store, runId);
        },
        async runCursors(
          _: unknown,
          { agentId, runIds }: QueryRunCursorsArgs,
          { store, limits, principal }: ApiContext,
        ) {
          // As many as a claim hands out: the checks batched are those of claimed launches.
          checkBatch('runCursors runIds', runIds.length, 'maxClaimBatch', limits.maxClaimBatch);
          await authorizeAgent(store, agentId, principal.id);
          await assertRunWriters(store.db, runIds, agentId);
          const cursors = await runCursorsOf(store, runIds);
          return runIds.map((runId) => {
            const cursor = cursors.get(runId);
            if (!cursor) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
            return cursor;
          });
        },
      },
      Mutation: {
        async registerAgent(_: unknown, { input }: MutationRegisterAgentArgs, ctx: ApiContext) {
          // JSON arrives as `unknown`; the agent sends metadata as an object (kept as sent, as before).
          const metadata = input.metadata as Record<string, unknown> | null | undefined;
          const agentId = await registerAgent(ctx.store, { ...input, metadata }, ctx.principal);
          return { agentId, heartbeatIntervalMs: ctx.store.limits.heartbeatIntervalMs };
        },
        async heartbeat(_: unknown, { input }: MutationHeartbeatArgs, { store, principal }: ApiContext) {
          await authorizeAgent(store, input.agentId, principal.id);
          checkHeartbeat(input); // bounds the lookups below
          // Only the code servers of locations its deployment serves, and runs it holds, count
          // (store/ownership.ts).
          const served = await servedLocations(
            store.db,
            input.agentId,
            input.codeServers.map((c) => c.location),
          );
          await heartbeat(store, {
            ...input,
            codeServers: input.codeServers.filter((c) => served.has(c.location)),
            runningRunIds: await heldRuns(store.db, input.agentId, input.runningRunIds),
          });
          return true;
        },
        async claimWork(
          _: unknown,
          { agentId, limit, waitMs, acks }: MutationClaimWorkArgs,
          { store, limits, request, metrics, principal }: ApiContext,
        ) {
          if (limit < 1) throw new OutpostError('INVALID_ARGUMENT', { detail: '`limit` must be at least 1' });
          checkBatch('claimWork limit', limit, 'maxClaimBatch', limits.maxClaimBatch);
          // An agent acks at most what it claimed (its in-flight items), so the claim limit bounds it too.
          if (acks) checkBatch('claimWork acks', acks.length, 'maxClaimBatch', limits.maxClaimBatch);
          await authorizeAgent(store, agentId, principal.id);
          const items = await claimWork(store, {
            agentId,
            limit,
            ...(acks?.length ? { acks } : {}),
            waitMs: Math.min(Math.max(0, waitMs), limits.maxWaitMs),
            signal: request.signal,
            reauthenticate: () => authenticate(store, request, 'agent'),
          });
          metrics.inc('outpost_work_items_claimed_total', items.length);
          return claimAnswer(store, items);
        },
        async ackWork(_: unknown, a: MutationAckWorkArgs, { store, principal }: ApiContext) {
          await authorizeAgent(store, a.agentId, principal.id);
          return workItem(await ackWork(store, a.agentId, a.id, a.workflowId));
        },
        async completeWork(_: unknown, a: MutationCompleteWorkArgs, { store, principal, limits }: ApiContext) {
          await authorizeAgent(store, a.agentId, principal.id);
          return workItem(await completeWork(store, a.agentId, a.id, a.result, { tokenId: principal.id }, limits));
        },
        async failWork(_: unknown, a: MutationFailWorkArgs, { store, principal }: ApiContext) {
          await authorizeAgent(store, a.agentId, principal.id);
          return workItem(await failWork(store, a.agentId, a.id, a.error, { tokenId: principal.id }));
        },
        async reportCodeLocation(
          _: unknown,
          { input }: MutationReportCodeLocationArgs,
          { store, principal }: ApiContext,
        ) {
          await authorizeAgent(store, input.agentId, principal.id);
          await assertLocationReporter(store.db, input.location, input.version, input.agentId);
          const applied = await reportCodeLocation(store, input);
          if (applied && input.status === 'LOADED') {
            await noteCodeServer(store, input.agentId, { location: input.location, status: 'LOADED' });
          }
          return applied;
        },
        async reportRunLaunched(_: unknown, a: MutationReportRunLaunchedArgs, { store, principal }: ApiContext) {
          await authorizeAgent(store, a.agentId, principal.id);
          // JSON arrives as `unknown`; the agent sends launch info as an object (kept as sent, as before).
          return reportRunLaunched(store, a.agentId, a.runId, a.info as Record<string, unknown> | null | undefined);
        },
        async reportRunLaunchedWithEvents(
          _: unknown,
          a: MutationReportRunLaunchedWithEventsArgs,
          { store, limits, metrics, principal }: ApiContext,
        ) {
          await authorizeAgent(store, a.agentId, principal.id);
          const lines = a.lines ?? '';
          checkBatch(
            'reportRunLaunchedWithEvents lines',
            countEventLines(lines),
            'maxEventsPerBatch',
            limits.maxEventsPerBatch,
          );
          // Checked before anything is written: a bad line refuses the whole call.
          const events = parseEventLines(lines);
          await reportRunLaunched(store, a.agentId, a.runId, a.info as Record<string, unknown> | null | undefined);
          if (events.length) {
            // reportRunLaunched checked (and recorded) this agent as the run's writer.
            await appendRunEvents(store, a.runId, events, a.agentId);
            metrics.inc('outpost_run_events_received_total', events.length);
          }
          return runCursorOf(store, a.runId);
        },
        async appendRunEvents(
          _: unknown,
          { agentId, runId, events }: MutationAppendRunEventsArgs,
          { store, limits, metrics, principal }: ApiContext,
        ) {
          await authorizeAgent(store, agentId, principal.id);
          checkBatch('appendRunEvents events', events.length, 'maxEventsPerBatch', limits.maxEventsPerBatch);
          await assertRunWriter(store.db, runId, agentId);
          const r = await appendRunEvents(store, runId, events, agentId);
          metrics.inc('outpost_run_events_received_total', events.length);
          return r;
        },
        async appendRunEventLines(
          _: unknown,
          { agentId, runId, lines }: MutationAppendRunEventLinesArgs,
          { store, limits, metrics, principal }: ApiContext,
        ) {
          await authorizeAgent(store, agentId, principal.id);
          checkBatch(
            'appendRunEventLines lines',
            countEventLines(lines),
            'maxEventsPerBatch',
            limits.maxEventsPerBatch,
          );
          const events = parseEventLines(lines);
          await assertRunWriter(store.db, runId, agentId);
          const r = await appendRunEvents(store, runId, events, agentId);
          metrics.inc('outpost_run_events_received_total', events.length);
          return r;
        },
        async appendComputeLogs(
          _: unknown,
          a: MutationAppendComputeLogsArgs,
          { store, limits, metrics, principal }: ApiContext,
        ) {
          await authorizeAgent(store, a.agentId, principal.id);
          const bytes = decodeBase64(a.data);
          checkBatch('appendComputeLogs data (bytes)', bytes.length, 'maxLogChunkBytes', limits.maxLogChunkBytes);
          await assertRunWriter(store.db, a.runId, a.agentId);
          const r = await appendComputeLogs(store, a.runId, a.stream, a.offset, bytes, a.agentId);
          metrics.inc('outpost_compute_log_bytes_received_total', bytes.length);
          return r;
        },
      },
    },
  });
}
