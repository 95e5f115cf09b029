// POST /agent/events: a batch of run events as the spool holds them, NDJSON
// (application/x-ndjson), the agent API's fast path beside appendRunEventLines: the lines are
// not escaped into a GraphQL JSON string and parsed back out (on both sides, a fifth of the
// control plane's CPU per event). Same rules as the mutation: an agent token, the agentId bound
// to it, the run written only by the agent holding its launch, at most maxEventsPerBatch lines
// within maxBodyBytes, each line checked as RunEventInput (graphql/event-lines.ts: a malformed
// line refuses the batch with INVALID_ARGUMENT naming it), every refusal in the one error shape.
//   POST /agent/events?agentId=<id>&runId=<id>   → 200 {"highestContiguousSeq": n, "status": s}
import { OutpostError } from '../../shared/errors.js';
import { checkBatch } from '../graphql/context.js';
import { countEventLines, parseEventLines } from '../graphql/event-lines.js';
import { limitDetail } from '../limits.js';
import { authorizeAgent } from '../store/agents.js';
import { assertRunWriter } from '../store/ownership.js';
import { appendRunEvents } from '../store/run-events.js';
import { openAgentUpload, readBodyLimited, type AgentUploadDeps } from './agent-upload.js';

export const AGENT_EVENTS_PATH = '/agent/events';

/** Answers POST /agent/events; throws OutpostError for every refusal (the caller shapes it). */
export async function handleAgentEvents(request: Request, deps: AgentUploadDeps): Promise<Response> {
  const { store, limits, metrics } = deps;
  const upload = await openAgentUpload(request, store, AGENT_EVENTS_PATH, 'application/x-ndjson');
  const agentId = upload.param('agentId');
  const runId = upload.param('runId');
  await authorizeAgent(store, agentId, upload.principal.id);
  // Ownership before the body: another agent's batch is refused unread.
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
  const lines = body.toString('utf8');
  checkBatch(`${AGENT_EVENTS_PATH} lines`, countEventLines(lines), 'maxEventsPerBatch', limits.maxEventsPerBatch);
  const events = parseEventLines(lines);
  const r = await appendRunEvents(store, runId, events);
  metrics.inc('outpost_run_events_received_total', events.length);
  return Response.json(r);
}
