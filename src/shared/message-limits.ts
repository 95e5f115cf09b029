// Limits on the free text user code and agents send the control plane (a tick's skip reason, a
// work item's failure message), shared so the agent cuts at the same length the control plane
// keeps: a long text is cut where it is first read, not carried through Temporal's history and
// a request body to be cut later. No flag: no useful message comes near them.

/**
 * A tick's skip reason or error (user code's words), in characters: kept with every tick and
 * listed 25 an instigator on the web UI's automation page.
 */
export const MAX_TICK_MESSAGE_LENGTH = 4096;

/**
 * A work item's failure message (failWork), in characters: kept with the item, and shown as the
 * ENGINE event of a failed launch. It may quote user code (an exception, a path it deployed).
 */
export const MAX_FAILURE_MESSAGE_LENGTH = 4096;

/** A work item's failure code (an OUTPOST_ERR_* code), in characters. */
export const MAX_FAILURE_CODE_LENGTH = 128;

/**
 * `text` within `max` characters: a longer one is cut, the cut saying how much and naming the
 * limit (`limit`, as the error registry and README name it); text and note never pass `max`
 * (one shorter than the note itself is cut to it with no note).
 */
export function cutMessage(text: string, max: number, limit: string): string {
  if (text.length <= max) return text;
  const note = (n: number): string => ` [… ${n} more characters cut: the limit ${limit} is ${max} (fixed)]`;
  // Never end on the first half of a surrogate pair.
  const start = (k: number): number => {
    const last = text.charCodeAt(k - 1);
    return k > 0 && last >= 0xd800 && last <= 0xdbff ? k - 1 : k;
  };
  const keep = keptWithNote(text.length, max, (n) => note(n).length, start);
  if (keep === undefined) return text.slice(0, start(max));
  return text.slice(0, keep) + note(text.length - keep);
}

/**
 * How many of a text's `total` units (characters or bytes) to keep so that they and the note
 * counting the rest fit in `max`, `start(k)` moving a cut back to where a character starts; the
 * note's count may gain a digit as the cut moves back, so it is sized until it fits (each round
 * keeps fewer). Undefined when not even the note fits.
 */
function keptWithNote(
  total: number,
  max: number,
  noteLength: (cut: number) => number,
  start: (keep: number) => number,
): number | undefined {
  let keep = max - noteLength(total - max);
  while (keep >= 0) {
    keep = start(keep);
    const over = keep + noteLength(total - keep) - max;
    if (over <= 0) return keep;
    keep -= over;
  }
  return undefined;
}

/** A work item's failure, its message and code within their limits. */
export function boundedFailure(error: { code: string; message: string }): { code: string; message: string } {
  return {
    code: cutMessage(error.code, MAX_FAILURE_CODE_LENGTH, 'maxFailureCodeLength'),
    message: cutMessage(error.message, MAX_FAILURE_MESSAGE_LENGTH, 'maxFailureMessageLength'),
  };
}

/** An evaluation's skip reason within maxTickMessageLength, as a result field (absent when empty). */
export function skipReasonOf(reason: string | null | undefined): { skipReason?: string } {
  return reason ? { skipReason: cutMessage(reason, MAX_TICK_MESSAGE_LENGTH, 'maxTickMessageLength') } : {};
}

/**
 * A LOG event's message from user code (ctx.log), in UTF-8 bytes: the SDK cuts a longer one
 * where it is logged, the cut saying how many bytes and naming the limit. A spool line is read
 * whole by the agent and stored and sent to every viewer as one event.
 */
export const MAX_LOG_MESSAGE_BYTES = 256 * 1024;

/** A LOG event's data (ctx.log's fields) as JSON, in UTF-8 bytes: past it, the SDK keeps the JSON text cut, under `cut`. */
export const MAX_LOG_DATA_BYTES = 1024 * 1024;

/**
 * `text` within `max` UTF-8 bytes: a longer one is cut (never inside a character), the cut saying
 * how many bytes and naming the limit (`limit`, as the README names it); text and note never
 * pass `max` (one shorter than the note itself is cut to it with no note).
 */
export function cutBytes(text: string, max: number, limit: string): string {
  // A UTF-16 unit is at most 3 UTF-8 bytes: the common short text is not encoded.
  if (text.length * 3 <= max) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return text;
  const note = (n: number): string => ` [… ${n} more bytes cut: the limit ${limit} is ${max} (fixed)]`;
  // Never inside a character: back to its first byte (not a 10xxxxxx continuation byte).
  const start = (k: number): number => {
    while (k > 0 && (bytes[k]! & 0xc0) === 0x80) k--;
    return k;
  };
  const keep = keptWithNote(bytes.length, max, (n) => Buffer.byteLength(note(n)), start);
  if (keep === undefined) return bytes.toString('utf8', 0, start(max));
  return bytes.toString('utf8', 0, keep) + note(bytes.length - keep);
}

/** A LOG event's message within maxLogMessageBytes. */
export const boundedLogMessage = (message: string): string =>
  cutBytes(message, MAX_LOG_MESSAGE_BYTES, 'maxLogMessageBytes');

/**
 * A LOG event's data (JSON-safe already) within maxLogDataBytes of JSON: past it, `{ cut }`, its
 * JSON text cut with a note. A flat record of short values is bounded without being serialized.
 */
export function boundedLogData(data: Record<string, unknown>): Record<string, unknown> {
  let bound = 2;
  for (const key in data) {
    const v = data[key];
    if (typeof v === 'string') bound += (key.length + v.length) * 6 + 6;
    else if (v === null || typeof v === 'number' || typeof v === 'boolean') bound += key.length * 6 + 32;
    else {
      bound = Infinity;
      break;
    }
  }
  if (bound <= MAX_LOG_DATA_BYTES) return data;
  const json = JSON.stringify(data);
  if (json.length * 3 <= MAX_LOG_DATA_BYTES || Buffer.byteLength(json) <= MAX_LOG_DATA_BYTES) return data;
  return { cut: cutBytes(json, MAX_LOG_DATA_BYTES, 'maxLogDataBytes') };
}
