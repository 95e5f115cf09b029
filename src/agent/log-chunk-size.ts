// How many bytes of a compute-log stream the spool shipper sends per request. Fewer, larger chunks
// cost the control plane less per MiB (each request costs it ~1 ms besides its bytes), up to its
// maxLogChunkBytes (default 4 MiB). A control plane that takes less (an operator's lower
// --max-body-bytes) names its limit and value in the refusal; the chunks to it are cut to that
// size from then on, for every run (learned per client, i.e. per control plane). Until a chunk of
// the current size has gone through, a stream sends one chunk at a time (spool-shipper.ts): chunks
// sent beside a refused one would wait on the control plane for the bytes before them, in vain.
import { isOutpostError } from '../shared/errors.js';

/** Bytes per appendComputeLogs call at most: the control plane's default maxLogChunkBytes. */
export const LOG_CHUNK = 4 * 1024 * 1024;
/** Smallest chunk cut to on a too-large refusal; below it the refusal is an error. */
const MIN_LOG_CHUNK = 64 * 1024;

const learned = new WeakMap<object, number>();
/** Clients that took a chunk of the current size. */
const confirmed = new WeakSet<object>();

/** The chunk size for the control plane behind `client`. */
export const logChunkFor = (client: object): number => learned.get(client) ?? LOG_CHUNK;

/** Whether the control plane behind `client` took a chunk of the current size. */
export const logChunkConfirmed = (client: object): boolean => confirmed.has(client);

/** Notes that the control plane behind `client` took a chunk of `sent` bytes. */
export function confirmLogChunk(client: object, sent: number): void {
  if (sent >= logChunkFor(client)) confirmed.add(client);
}

/**
 * On a refusal of a `sent`-byte chunk as too large (BATCH_TOO_LARGE: maxLogChunkBytes;
 * BODY_TOO_LARGE: maxBodyBytes), cuts the client's chunks to the limit's value, or to half when
 * the limit is on a larger body (an older control plane's mutation carries base64). Answers the
 * limit's name and the new size, or undefined when `err` is no such refusal or `sent` is already
 * the smallest.
 */
export function cutLogChunk(client: object, err: unknown, sent: number): { limit: unknown; size: number } | undefined {
  if (!isOutpostError(err, 'BATCH_TOO_LARGE') && !isOutpostError(err, 'BODY_TOO_LARGE')) return undefined;
  if (sent <= MIN_LOG_CHUNK) return undefined;
  const value = err.data?.value;
  const limit = typeof value === 'number' && value < sent ? value : Math.floor(sent / 2);
  const size = Math.max(MIN_LOG_CHUNK, Math.min(logChunkFor(client), limit));
  learned.set(client, size);
  confirmed.delete(client);
  return { limit: err.data?.limit, size };
}
