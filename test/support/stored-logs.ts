// A run's stored compute-log chunks read straight from the store, in offset order: what tests
// and benches compare with the bytes a worker wrote.
import type { Store } from '../../src/control-plane/store/store.js';

export interface StoredChunk {
  offset: number | string | bigint;
  data: Uint8Array;
}

/** The run's chunks of one stream, by offset. */
export function storedChunks(
  store: Store,
  runId: string,
  stream: 'stdout' | 'stderr' = 'stdout',
): Promise<StoredChunk[]> {
  return store.db
    .selectFrom('compute_logs')
    .select(['offset', 'data'])
    .where('run_id', '=', runId)
    .where('stream', '=', stream)
    .orderBy('offset')
    .execute();
}

/** The run's stored stdout as one buffer. */
export async function storedStdoutBytes(store: Store, runId: string): Promise<Buffer> {
  return Buffer.concat((await storedChunks(store, runId)).map((r) => Buffer.from(r.data)));
}
