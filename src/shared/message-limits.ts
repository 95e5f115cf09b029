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
 * limit (`limit`, as the error registry and README name it).
 */
export function cutMessage(text: string, max: number, limit: string): string {
  if (text.length <= max) return text;
  const note = (n: number): string => ` [… ${n} more characters cut: the limit ${limit} is ${max} (fixed)]`;
  // The note's own length decides how much is kept; its count may gain a digit, so twice.
  let keep = max - note(text.length - max).length;
  keep = max - note(text.length - keep).length;
  // Never end on the first half of a surrogate pair (one more cut character keeps within max).
  const last = text.charCodeAt(keep - 1);
  if (last >= 0xd800 && last <= 0xdbff) keep--;
  return text.slice(0, keep) + note(text.length - keep);
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
