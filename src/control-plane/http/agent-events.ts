// POST /agent/events: a batch of run events as the spool holds them, NDJSON
// (application/x-ndjson), the agent API's fast path beside appendRunEventLines: the lines are
// not escaped into a GraphQL JSON string and parsed back out (on both sides, a fifth of the
// control plane's CPU per event). Same rules as the mutation: an agent token, the agentId bound
// to it, the run written only by the agent holding its launch, at most maxEventsPerBatch lines
// within maxBodyBytes, each line checked as RunEventInput (graphql/event-lines.ts: a malformed
// line refuses the batch with INVALID_ARGUMENT naming it), every refusal in the one error shape.
//   POST /agent/events?agentId=<id>&runId=<id>   → 200 {"highestContiguousSeq": n, "status": s}
// A batch whose first seq is ahead of what is stored waits (up to EVENT_GAP_WAIT_MS) for the
// events before it: the agent keeps several batches in flight on separate connections, and one
// that overtook its predecessor would otherwise go through run_events_pending (written, moved
// and deleted: about three times the writes). A gap that does not fill is stored as before.
import { OutpostError } from '../../shared/errors.js';
import { checkBatch } from '../graphql/context.js';
import { bodyText, countEventLines, parseEventLines } from '../graphql/event-lines.js';
import { limitDetail } from '../limits.js';
import { isTerminal } from '../core/run-state.js';
import { authorizeAgent } from '../store/agents.js';
import { assertRunWriter } from '../store/ownership.js';
import { appendRunEvents, type AppendEventsResult, type RunEventInput } from '../store/run-events.js';
import type { Store } from '../store/store.js';
import { jsonAnswer } from './whole-body.js';
import { openAgentUpload, readBodyLimited, type AgentUploadDeps } from './agent-upload.js';

export const AGENT_EVENTS_PATH = '/agent/events';

/** Longest a batch waits for the events ahead of it (a batch sent just before it). */
export const EVENT_GAP_WAIT_MS = 1_000;

/**
 * appendRunEvents, after waiting for the run's stored seqs to reach the batch's first one. Only a
 * batch ahead of a gap arms a waiter (an AbortController and a listener cost ~0.1 ms), and it is
 * armed before each look again, so a predecessor committing in between still wakes it. `writer`
 * is checked to write the run in the transaction that stores the batch (appendRunEvents).
 */
export async function appendEventsInOrder(
  store: Store,
  runId: string,
  events: RunEventInput[],
  waitMs = EVENT_GAP_WAIT_MS,
  writer?: string,
): Promise<AppendEventsResult> {
  let first = Infinity;
  for (const e of events) if (e.seq < first) first = e.seq;
  const ready = async (): Promise<boolean> => {
    const row = await store.db.selectFrom('runs').select('last_seq').where('id', '=', runId).executeTakeFirst();
    return !row || first <= Number(row.last_seq) + 1;
  };
  // An empty batch has no predecessor to wait for (it would wait out the whole wait). A run's
  // stored seq only grows: a batch that follows one this process stored needs no look.
  const known = answered.get(store)?.get(runId);
  if (!events.length || (known !== undefined && first <= known + 1) || (await ready()))
    return appendAndNote(store, runId, events, writer);
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    const disarm = new AbortController();
    const woken = store.signals.waitFor({ runId }, deadline - Date.now(), disarm.signal);
    try {
      if (await ready()) break;
      await woken;
    } finally {
      disarm.abort();
    }
  }
  return appendAndNote(store, runId, events, writer);
}

/** Per store, the highest contiguous seq this process last answered per run (runs still going). */
const answered = new WeakMap<Store, Map<string, number>>();
/** Runs remembered at most (a bound, not a working-set size: forgetting costs one query). */
const ANSWERED_MAX = 10_000;

async function appendAndNote(
  store: Store,
  runId: string,
  events: RunEventInput[],
  writer: string | undefined,
): Promise<AppendEventsResult> {
  const r = await appendRunEvents(store, runId, events, writer);
  let byRun = answered.get(store);
  if (!byRun) answered.set(store, (byRun = new Map<string, number>()));
  if (isTerminal(r.status)) byRun.delete(runId);
  else {
    if (byRun.size >= ANSWERED_MAX && !byRun.has(runId)) byRun.clear();
    byRun.set(runId, r.highestContiguousSeq);
  }
  return r;
}

/** Answers POST /agent/events; throws OutpostError for every refusal (the caller shapes it). */
export async function handleAgentEvents(request: Request, deps: AgentUploadDeps): Promise<Response> {
  const { store, limits, metrics } = deps;
  const upload = await openAgentUpload(request, store, AGENT_EVENTS_PATH, 'application/x-ndjson');
  const agentId = upload.param('agentId');
  const runId = upload.param('runId');
  await authorizeAgent(store, agentId, upload.principal.id);
  // Ownership before the body: another agent's batch is refused unread. The body may take long
  // to arrive and the lease may move meanwhile, so the write checks it again (appendRunEvents).
  await assertRunWriter(store.db, runId, agentId);
  const body = await readBodyLimited(
    request,
    limits.maxBodyBytes,
    (got) =>
      new OutpostError('BODY_TOO_LARGE', {
        detail: limitDetail('maxBodyBytes', limits.maxBodyBytes, `the ${AGENT_EVENTS_PATH} batch has ${got} bytes`),
        data: { limit: 'maxBodyBytes', value: limits.maxBodyBytes, got },
      }),
  );
  const { text, codes } = bodyText(body);
  checkBatch(`${AGENT_EVENTS_PATH} lines`, countEventLines(text), 'maxEventsPerBatch', limits.maxEventsPerBatch);
  const events = parseEventLines(text, codes);
  const r = await appendEventsInOrder(store, runId, events, EVENT_GAP_WAIT_MS, agentId);
  metrics.inc('outpost_run_events_received_total', events.length);
  return jsonAnswer(r);
}
