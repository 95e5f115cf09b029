// POST /agent/logs: a compute-log chunk as raw bytes (application/octet-stream), the agent API's
// fast path beside the appendComputeLogs mutation. The bytes no longer travel base64 inside a
// GraphQL JSON string (encode, escape, parse, decode: most of the control plane's CPU per MiB).
// Same rules as the mutation: an agent token, the agentId bound to it (authorizeAgent), the run
// written only by the agent holding its launch (assertRunWriter before the body is read, and
// again in the transaction that stores it: the lease may move while it arrives), the chunk within
// maxLogChunkBytes (and the body within maxBodyBytes), every refusal in the one error shape.
//   POST /agent/logs?agentId=<id>&runId=<id>&stream=stdout|stderr&offset=<bytes>
//   → 200 {"storedBytes": n, "truncated": bool}
// A chunk whose offset is ahead of what is stored waits (up to GAP_WAIT_MS) for the bytes before
// it, so an agent may keep several chunks in flight; a gap that does not fill is refused as before.
// Bodies are read into buffers reused across requests (shared/body-pool.ts), given back once stored.
import { OutpostError, isOutpostError } from '../../shared/errors.js';
import type { ComputeLogStream } from '../../shared/run-events.js';
import { limitDetail, type ApiLimits } from '../limits.js';
import { authorizeAgent } from '../store/agents.js';
import { appendComputeLogs, type AppendLogsResult } from '../store/compute-logs.js';
import { assertRunWriter } from '../store/ownership.js';
import type { Store } from '../store/store.js';
import { BodyPool } from '../../shared/body-pool.js';
import { LogChunkOrder, type ChunkEntry } from './log-chunk-order.js';
import { jsonAnswer } from './whole-body.js';
import { openAgentUpload, readBodyLimited, type AgentUpload, type AgentUploadDeps } from './agent-upload.js';

export const AGENT_LOGS_PATH = '/agent/logs';

/** Longest a chunk waits for the bytes ahead of its offset (a chunk sent just before it). */
export const GAP_WAIT_MS = 5_000;

const STREAMS: ReadonlySet<string> = new Set<ComputeLogStream>(['stdout', 'stderr']);

const invalid = (detail: string) => new OutpostError('INVALID_ARGUMENT', { detail });

interface LogChunkTarget {
  /** The agent whose chunk it is, checked to write the run when it is stored; none in-process. */
  agentId?: string;
  runId: string;
  stream: ComputeLogStream;
  offset: number;
}

function target(upload: AgentUpload): Required<LogChunkTarget> {
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

/** Chunk bodies' buffers, reused (shared/body-pool.ts): one pool per process, as the bodies are. */
export const bodies = new BodyPool();

/** One chunk order per store (per process: a replica sees its own requests only). */
const orders = new WeakMap<Store, LogChunkOrder>();
export function chunkOrderOf(store: Store): LogChunkOrder {
  let order = orders.get(store);
  if (!order) orders.set(store, (order = new LogChunkOrder()));
  return order;
}

/**
 * appendComputeLogs once the bytes before `offset` can be there: the agent sends chunk n+1 while
 * chunk n is in flight, and the two may reach the store in either order. A chunk first waits, in
 * memory, for the earlier chunks of its stream this process is handling (log-chunk-order.ts);
 * refused for a gap all the same (its predecessor has not arrived, or went to another replica),
 * it waits for the stored offset to reach it, checked with a plain read on each wake-up of the
 * run or when an earlier chunk arrives, before it tries its transaction again. `entry` is the
 * chunk's place in the order when the caller registered it before reading the body.
 */
export async function appendWhenContiguous(
  store: Store,
  t: LogChunkTarget,
  data: Buffer,
  waitMs = GAP_WAIT_MS,
  entry?: ChunkEntry,
): Promise<AppendLogsResult> {
  const order = chunkOrderOf(store);
  const own = entry ?? order.enter(t.runId, t.stream, t.offset);
  const deadline = Date.now() + waitMs;
  try {
    await order.before(own, deadline);
    for (;;) {
      try {
        return await appendComputeLogs(store, t.runId, t.stream, t.offset, data, t.agentId);
      } catch (e) {
        if (!isGap(e) || Date.now() >= deadline) throw e;
      }
      await gapFilled(store, order, own, t, deadline);
    }
  } finally {
    if (!entry) own.settle();
  }
}

/**
 * Returns once the chunk's transaction is worth trying again: the stored offset reached it, an
 * earlier chunk handled here has settled, or the deadline passed. The waiters are armed before
 * each look, so a predecessor that commits or arrives in between still wakes it.
 */
async function gapFilled(
  store: Store,
  order: LogChunkOrder,
  entry: ChunkEntry,
  t: LogChunkTarget,
  deadline: number,
): Promise<void> {
  const col = t.stream === 'stdout' ? 'stdout_bytes' : 'stderr_bytes';
  while (Date.now() < deadline) {
    const disarm = new AbortController();
    const signalled = store.signals.waitFor({ runId: t.runId }, deadline - Date.now(), disarm.signal);
    const earlier = order.earlierArrival(entry);
    try {
      if (order.hasEarlier(entry)) return await order.before(entry, deadline);
      const row = await store.db.selectFrom('runs').select(col).where('id', '=', t.runId).executeTakeFirst();
      if (!row || Number(row[col]) >= t.offset) return;
      await Promise.race([earlier.arrived, signalled]);
    } finally {
      disarm.abort();
      earlier.drop();
    }
  }
}

/** Answers POST /agent/logs; throws OutpostError for every refusal (the caller shapes it). */
export async function handleAgentLogs(request: Request, deps: AgentUploadDeps): Promise<Response> {
  const { store, limits, metrics } = deps;
  const upload = await openAgentUpload(request, store, AGENT_LOGS_PATH, 'application/octet-stream');
  const t = target(upload);
  await authorizeAgent(store, t.agentId, upload.principal.id);
  // Ownership before the body: another agent's chunk is refused unread. The body may take long
  // to arrive and the lease may move meanwhile, so the write checks it again (appendComputeLogs).
  await assertRunWriter(store.db, t.runId, t.agentId);
  // In the order before the body: a chunk whose body arrives first still waits for this one.
  const entry = chunkOrderOf(store).enter(t.runId, t.stream, t.offset);
  let data: Buffer | undefined;
  try {
    const limit = Math.min(limits.maxLogChunkBytes, limits.maxBodyBytes);
    data = await readBodyLimited(
      request,
      limit,
      (got) => tooLarge(limits, got),
      (size) => bodies.take(size),
    );
    const r = await appendWhenContiguous(store, t, data, GAP_WAIT_MS, entry);
    metrics.inc('outpost_compute_log_bytes_received_total', data.length);
    return jsonAnswer(r);
  } finally {
    entry.settle();
    // The store's call has settled (or never began): nothing holds the bytes any more.
    if (data) bodies.give(data);
  }
}
