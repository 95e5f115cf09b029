// Compute logs (raw stdout/stderr): chunks keyed by (run_id, stream, offset). A resent or
// overlapping chunk stores only the bytes not yet stored, so retries are harmless. Past the
// per-run cap, data is dropped (offsets still advance, so senders move on) and readers see a marker.
import { OutpostError } from '../../shared/errors.js';
import type { ComputeLogStream } from '../../shared/run-events.js';
import { assertRunWriterIn } from './ownership.js';
import type { Store } from './store.js';

export interface AppendLogsResult {
  storedBytes: number;
  truncated: boolean;
}

export const truncationMarker = (capBytes: number): string =>
  `\n[outpost: compute logs truncated: this run exceeded the ${formatBytes(capBytes)} per-run cap; later output was dropped]\n`;

function formatBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MB`;
  if (n % 1024 === 0) return `${n / 1024} KB`;
  return `${n} bytes`;
}

/**
 * Stores a chunk at `offset` of `stream`. `writer`: the agent whose chunk it is, checked to
 * write the run (RUN_NOT_OWNED) in the transaction that stores it; in-process callers pass none.
 */
export async function appendComputeLogs(
  store: Store,
  runId: string,
  stream: ComputeLogStream,
  offset: number,
  data: Buffer,
  writer?: string,
): Promise<AppendLogsResult> {
  if (!Number.isInteger(offset) || offset < 0) {
    throw new OutpostError('INVALID_ARGUMENT', { detail: 'offset must be a non-negative integer' });
  }
  const col = stream === 'stdout' ? 'stdout_bytes' : 'stderr_bytes';
  const result = await store.transaction(async (trx) => {
    const run = await store.dialect
      .lockForUpdate(
        trx
          .selectFrom('runs')
          .select(['stdout_bytes', 'stderr_bytes', 'log_bytes_stored', 'logs_truncated', 'agent_id'])
          .where('id', '=', runId),
      )
      .executeTakeFirst();
    if (!run) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
    if (writer !== undefined) await assertRunWriterIn(store, trx, runId, writer, run.agent_id);
    const pos = Number(run[col]);
    const truncated = Number(run.logs_truncated) === 1;
    if (offset > pos) {
      throw new OutpostError('INVALID_ARGUMENT', {
        detail: `${stream} offset ${offset} leaves a gap: ${pos} bytes are stored; resend from ${pos}`,
        data: { storedBytes: pos },
      });
    }
    const end = offset + data.length;
    if (end <= pos) return { storedBytes: pos, truncated };
    const fresh = data.subarray(pos - offset);
    const room = Math.max(0, store.limits.computeLogCapBytes - Number(run.log_bytes_stored));
    const keep = fresh.subarray(0, Math.min(room, fresh.length));
    if (keep.length) {
      await trx
        .insertInto('compute_logs')
        // The bytes as received, not a copy: both drivers read a Buffer view as it is.
        .values({ run_id: runId, stream, offset: pos, data: keep })
        .onConflict((oc) => oc.columns(['run_id', 'stream', 'offset']).doNothing())
        .execute();
    }
    const nowTruncated = truncated || keep.length < fresh.length;
    await trx
      .updateTable('runs')
      .set({
        [col]: end,
        log_bytes_stored: Number(run.log_bytes_stored) + keep.length,
        logs_truncated: nowTruncated ? 1 : 0,
      })
      .where('id', '=', runId)
      .execute();
    return { storedBytes: end, truncated: nowTruncated };
  });
  if (data.length) store.signals.notifyRunEvents(runId);
  return result;
}

export interface ComputeLogSlice {
  data: string;
  offset: number;
  nextOffset: number;
  truncated: boolean;
}

/** Up to `maxBytes` of a stream from `afterOffset`. */
export async function readComputeLogs(
  store: Store,
  runId: string,
  stream: ComputeLogStream,
  afterOffset: number,
  maxBytes = 1024 * 1024,
): Promise<ComputeLogSlice> {
  const run = await store.db
    .selectFrom('runs')
    .select(['stdout_bytes', 'stderr_bytes', 'logs_truncated'])
    .where('id', '=', runId)
    .executeTakeFirst();
  if (!run) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
  const total = Number(stream === 'stdout' ? run.stdout_bytes : run.stderr_bytes);
  const truncated = Number(run.logs_truncated) === 1;
  const start = Math.max(0, afterOffset);
  // The chunk containing `start` begins at or before it; the rest begin after it.
  const before = await store.db
    .selectFrom('compute_logs')
    .select(['offset', 'data'])
    .where('run_id', '=', runId)
    .where('stream', '=', stream)
    .where('offset', '<=', start)
    .orderBy('offset', 'desc')
    .limit(1)
    .execute();
  const after = await store.db
    .selectFrom('compute_logs')
    .select(['offset', 'data'])
    .where('run_id', '=', runId)
    .where('stream', '=', stream)
    .where('offset', '>', start)
    .orderBy('offset')
    .limit(256)
    .execute();
  const parts: Buffer[] = [];
  let pos = start;
  let size = 0;
  for (const c of [...before, ...after]) {
    const off = Number(c.offset);
    const buf = Buffer.from(c.data);
    if (off + buf.length <= pos || off > pos || size >= maxBytes) continue;
    const piece = buf.subarray(pos - off, pos - off + (maxBytes - size));
    parts.push(piece);
    pos += piece.length;
    size += piece.length;
  }
  let data = Buffer.concat(parts).toString('utf8');
  let nextOffset = pos;
  // Reached the end of what is stored while the sender went further: the rest was dropped.
  const storedEnd = size < maxBytes && after.length < 256;
  if (truncated && storedEnd && pos < total) {
    data += truncationMarker(store.limits.computeLogCapBytes);
    nextOffset = total;
  }
  return { data, offset: start, nextOffset, truncated };
}
