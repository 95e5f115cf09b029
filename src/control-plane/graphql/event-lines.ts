// appendRunEventLines' input: a batch of run events as NDJSON (one RunEventInput object per
// line) in one String argument. GraphQL coerced the [RunEventInput!]! list field by field, about
// 30 % of the control plane's CPU while ingesting; this walks each parsed line once with the same
// rules (the fields and types of agent.graphql's RunEventInput, JSON depth as the JSON scalar) and
// names the offending line in the one error shape (INVALID_ARGUMENT / JSON_TOO_DEEP).
import { OutpostError } from '../../shared/errors.js';
import { checkJsonDepth } from '../core/input-rules.js';
import { isAscii } from 'node:buffer';
import { codesOf, scanEnd, scanEventLineAt, type Codes } from './event-line-scan.js';
import type { RunEventInput } from '../store/run-events.js';

const KEYS: ReadonlySet<string> = new Set([
  'seq',
  'type',
  'timestamp',
  'stepKey',
  'assetKey',
  'level',
  'message',
  'data',
  'error',
]);
const OPTIONAL_STRINGS = ['stepKey', 'assetKey', 'level', 'message'] as const;
/** GraphQL's Int: a signed 32-bit integer. */
const MAX_INT = 2 ** 31 - 1;

const bad = (i: number, detail: string): OutpostError =>
  new OutpostError('INVALID_ARGUMENT', { detail: `lines[${i}]: ${detail}` });

/** Lines in `ndjson` that hold an event (blank lines are skipped), counted before any parsing. */
export function countEventLines(ndjson: string): number {
  let n = 0;
  let start = 0;
  while (start < ndjson.length) {
    let nl = ndjson.indexOf('\n', start);
    if (nl === -1) nl = ndjson.length;
    for (let j = start; j < nl; j++) {
      const c = ndjson.charCodeAt(j);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0d) {
        n++;
        break;
      }
    }
    start = nl + 1;
  }
  return n;
}

/** An NDJSON body as text, and its code units for the scanner (its own bytes when ASCII). */
export function bodyText(body: Buffer): { text: string; codes: Codes } {
  if (isAscii(body)) return { text: body.toString('latin1'), codes: body };
  const text = body.toString('utf8');
  return { text, codes: codesOf(text) };
}

/** The events of an NDJSON batch, validated as GraphQL validated RunEventInput. */
export function parseEventLines(ndjson: string, codes: Codes = codesOf(ndjson)): RunEventInput[] {
  const out: RunEventInput[] = [];
  let start = 0;
  while (start < ndjson.length) {
    // The compact shape our writers produce, in one pass that also finds the line's end;
    // anything else takes JSON.parse.
    const fast = scanEventLineAt(codes, ndjson, start);
    if (fast) {
      out.push(fast);
      start = scanEnd() + 1;
      continue;
    }
    let nl = ndjson.indexOf('\n', start);
    if (nl === -1) nl = ndjson.length;
    const from = start;
    start = nl + 1;
    const line = ndjson.slice(from, nl);
    if (line.trim() === '') continue;
    out.push(toEvent(out.length, line));
  }
  return out;
}

/** The general path: JSON.parse, then the RunEventInput checks (also the scanner's reference). */
export function toEvent(i: number, line: string): RunEventInput {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw bad(i, 'is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(i, 'is not a JSON object');
  const e = v as Record<string, unknown>;
  for (const k in e) if (!KEYS.has(k)) throw bad(i, `unknown field ${JSON.stringify(k.slice(0, 64))}`);
  const { seq, type, timestamp } = e;
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq > MAX_INT || seq < -MAX_INT - 1)
    throw bad(i, '`seq` must be an Int');
  if (typeof type !== 'string') throw bad(i, '`type` must be a String');
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) throw bad(i, '`timestamp` must be a Float');
  for (const k of OPTIONAL_STRINGS) {
    const s = e[k];
    if (s !== undefined && s !== null && typeof s !== 'string') throw bad(i, `\`${k}\` must be a String`);
  }
  if (typeof e.data === 'object' && e.data !== null) checkJsonDepth(`lines[${i}].data`, e.data);
  if (typeof e.error === 'object' && e.error !== null) checkJsonDepth(`lines[${i}].error`, e.error);
  return e as unknown as RunEventInput;
}
