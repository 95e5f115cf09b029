// POST /agent/logs: a compute-log chunk as raw bytes (application/octet-stream), the agent API's
// fast path beside the appendComputeLogs mutation. The bytes no longer travel base64 inside a
// GraphQL JSON string (encode, escape, parse, decode: most of the control plane's CPU per MiB).
// Same rules as the mutation: an agent token, the agentId bound to it (authorizeAgent), the run
// written only by the agent holding its launch (assertRunWriter), the chunk within
// maxLogChunkBytes (and the body within maxBodyBytes), every refusal in the one error shape.
//   POST /agent/logs?agentId=<id>&runId=<id>&stream=stdout|stderr&offset=<bytes>
//   → 200 {"storedBytes": n, "truncated": bool}
// A chunk whose offset is ahead of what is stored waits (up to GAP_WAIT_MS) for the bytes before
// it, so an agent may keep two chunks in flight; a gap that does not fill is refused as before.
import { OutpostError, isOutpostError } from '../../shared/errors.js';
import type { ComputeLogStream } from '../../shared/run-events.js';
import { limitDetail, type ApiLimits } from '../limits.js';
import { authorizeAgent } from '../store/agents.js';
import { appendComputeLogs, type AppendLogsResult } from '../store/compute-logs.js';
import { assertRunWriter } from '../store/ownership.js';
import type { Store } from '../store/store.js';
import { openAgentUpload, readBodyLimited, type AgentUpload, type AgentUploadDeps } from './agent-upload.js';

export const AGENT_LOGS_PATH = '/agent/logs';

/** Longest a chunk waits for the bytes ahead of its offset (a chunk sent just before it). */
export const GAP_WAIT_MS = 5_000;

const STREAMS: ReadonlySet<string> = new Set<ComputeLogStream>(['stdout', 'stderr']);

const invalid = (detail: string) => new OutpostError('INVALID_ARGUMENT', { detail });

interface LogChunkTarget {
  agentId: string;
  runId: string;
  stream: ComputeLogStream;
  offset: number;
}

function target(upload: AgentUpload): LogChunkTarget {
  const { param } = upload;
  const stream = param('stream');
  if (!STREAMS.has(stream)) throw invalid('`stream` must be stdout or stderr');
  const offsetText = param('offset');
  const offset = Number(offsetText);
  if (!/^\d+$/.test(offsetText) || !Number.isSafeInteger(offset)) {
    throw invalid('`offset` must be a non-negative integer');
  }
  return { agentId: param('agentId'), runId: param('runId'), stream: stream as ComputeLogStream, offset };
}

/** The refusal naming the limit in effect: maxLogChunkBytes, or maxBodyBytes when it is lower. */
function tooLarge(limits: ApiLimits, got: string): OutpostError {
  const [name, code] =
    limits.maxBodyBytes < limits.maxLogChunkBytes
      ? (['maxBodyBytes', 'BODY_TOO_LARGE'] as const)
      : (['maxLogChunkBytes', 'BATCH_TOO_LARGE'] as const);
  const limit = limits[name];
  return new OutpostError(code, {
    detail: limitDetail(name, limit, `the ${AGENT_LOGS_PATH} chunk has ${got} bytes`),
    data: { limit: name, value: limit, got },
  });
}

const isGap = (e: unknown): boolean => isOutpostError(e, 'INVALID_ARGUMENT') && typeof e.data?.storedBytes === 'number';

/**
 * appendComputeLogs, waiting for a gap before `offset` to fill: the agent sends chunk n+1 while
 * chunk n is in flight, and the two may reach the store in either order. Only a chunk refused for
 * a gap arms a waiter (an AbortController and a listener cost ~0.1 ms), and it is armed before
 * each further attempt, so a predecessor that commits in between still wakes it.
 */
export async function appendWhenContiguous(
  store: Store,
  t: Omit<LogChunkTarget, 'agentId'>,
  data: Buffer,
  waitMs = GAP_WAIT_MS,
): Promise<AppendLogsResult> {
  const deadline = Date.now() + waitMs;
  try {
    return await appendComputeLogs(store, t.runId, t.stream, t.offset, data);
  } catch (e) {
    if (!isGap(e) || Date.now() >= deadline) throw e;
  }
  for (;;) {
    const disarm = new AbortController();
    const woken = store.signals.waitFor({ runId: t.runId }, deadline - Date.now(), disarm.signal);
    try {
      return await appendComputeLogs(store, t.runId, t.stream, t.offset, data);
    } catch (e) {
      if (!isGap(e) || Date.now() >= deadline) throw e;
      await woken;
    } finally {
      disarm.abort();
    }
  }
}

/** Answers POST /agent/logs; throws OutpostError for every refusal (the caller shapes it). */
export async function handleAgentLogs(request: Request, deps: AgentUploadDeps): Promise<Response> {
  const { store, limits, metrics } = deps;
  const upload = await openAgentUpload(request, store, AGENT_LOGS_PATH, 'application/octet-stream');
  const t = target(upload);
  await authorizeAgent(store, t.agentId, upload.principal.id);
  // Ownership before the body: another agent's chunk is refused unread.
  await assertRunWriter(store.db, t.runId, t.agentId);
  const limit = Math.min(limits.maxLogChunkBytes, limits.maxBodyBytes);
  const data = await readBodyLimited(request, limit, (got) => tooLarge(limits, got));
  const r = await appendWhenContiguous(store, t, data);
  metrics.inc('outpost_compute_log_bytes_received_total', data.length);
  return Response.json(r);
}
