// The fast path of event-lines.ts: one pass over a line in the shape our writers produce (compact
// JSON, as JSON.stringify and the Dagster spool write it), without JSON.parse building objects
// that the store would only JSON.stringify again. It answers only what it can vouch for: a line
// the general path (JSON.parse + the RunEventInput checks) would accept, with the same field
// values, and `data`/`error` whose text is exactly what JSON.stringify(JSON.parse(text)) gives
// (no whitespace, canonical numbers and escapes, no duplicate or array-index keys, depth within
// maxJsonDepth). Anything else (an error, an odd but valid shape) answers undefined, and the
// general path decides, so the stored bytes and the refusals are the general path's.
// It reads code units from an array, not with charCodeAt (about 2.5 times faster per character):
// an ASCII body's own bytes (each byte is the code unit of its latin1 text), else the string's
// UTF-16 units; values are sliced from the string.
import { FIXED_INPUT_LIMITS } from '../limits.js';
import { JsonText } from '../store/json-text.js';
import type { RunEventInput } from '../store/run-events.js';

/** A text's code units: an ASCII body's bytes, or a string's UTF-16 units. */
export type Codes = Uint8Array | Uint16Array;

const MAX_DEPTH = FIXED_INPUT_LIMITS.maxJsonDepth;
/** GraphQL's Int: a signed 32-bit integer. */
const MAX_INT = 2 ** 31 - 1;

/** Top-level keys as bits (a key seen twice goes to the general path). */
const K = {
  seq: 1,
  type: 2,
  timestamp: 4,
  stepKey: 8,
  assetKey: 16,
  level: 32,
  message: 64,
  data: 128,
  error: 256,
} as const;

/** Whether s[a, a + lit.length) spells `lit` (a char loop: startsWith's builtin call costs more). */
function spells(u: Codes, a: number, lit: string): boolean {
  for (let i = 0; i < lit.length; i++) if (u[a + i]! !== lit.charCodeAt(i)) return false;
  return true;
}

/** The top-level key spelled in s[a, b) (no escapes), or 0 when it is not one. */
function keyOf(u: Codes, a: number, b: number): number {
  // No closure here: tsx's keepNames would wrap one per call.
  switch (b - a) {
    case 3:
      return spells(u, a, 'seq') ? K.seq : 0;
    case 4:
      return spells(u, a, 'type') ? K.type : spells(u, a, 'data') ? K.data : 0;
    case 5:
      return spells(u, a, 'level') ? K.level : spells(u, a, 'error') ? K.error : 0;
    case 7:
      return spells(u, a, 'message') ? K.message : spells(u, a, 'stepKey') ? K.stepKey : 0;
    case 8:
      return spells(u, a, 'assetKey') ? K.assetKey : 0;
    case 9:
      return spells(u, a, 'timestamp') ? K.timestamp : 0;
    default:
      return 0;
  }
}

// Scanner state: the end of the last token read (module-level: one line at a time, no allocation).
let pos = 0;

/** A string token at s[p] ('"'): its value, or undefined (not a plain valid string). */
function stringAt(u: Codes, s: string, p: number, end: number): string | undefined {
  if (u[p]! !== 0x22) return undefined;
  let escaped = false;
  for (let i = p + 1; i < end; i++) {
    const c = u[i]!;
    if (c === 0x22) {
      pos = i + 1;
      if (!escaped) return s.slice(p + 1, i);
      try {
        return JSON.parse(s.slice(p, i + 1)) as string;
      } catch {
        return undefined;
      }
    }
    if (c === 0x5c) {
      escaped = true;
      i++;
    } else if (c < 0x20) return undefined;
  }
  return undefined;
}

/** End of a JSON number token at s[p], or -1 (not the JSON grammar). */
function numberEnd(u: Codes, p: number, end: number): number {
  let i = p;
  if (u[i]! === 0x2d) i++;
  const first = u[i]!;
  if (first === 0x30) i++;
  else if (first >= 0x31 && first <= 0x39) while (i < end && isDigit(u[i]!)) i++;
  else return -1;
  if (u[i]! === 0x2e) {
    const d = ++i;
    while (i < end && isDigit(u[i]!)) i++;
    if (i === d) return -1;
  }
  const e = u[i]!;
  if (e === 0x65 || e === 0x45) {
    i++;
    const sign = u[i]!;
    if (sign === 0x2b || sign === 0x2d) i++;
    const d = i;
    while (i < end && isDigit(u[i]!)) i++;
    if (i === d) return -1;
  }
  return i;
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** A JSON number at s[p] as JSON.parse reads it (sets pos), or undefined. */
function numberAt(u: Codes, s: string, p: number, end: number): number | undefined {
  // The common case, a plain integer of up to 15 digits, is exact when summed digit by digit.
  let n = 0;
  let i = p;
  for (; i < end && i - p < 15; i++) {
    const c = u[i]!;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  const after = u[i]!;
  if (i > p && (i === p + 1 || u[p]! !== 0x30) && (after === 0x2c || after === 0x7d)) {
    pos = i;
    return n;
  }
  const q = numberEnd(u, p, end);
  if (q < 0) return undefined;
  pos = q;
  return Number(s.slice(p, q));
}

/**
 * End of the JSON value at s[p] when its text is what JSON.stringify(JSON.parse(text)) writes,
 * nesting at most MAX_DEPTH objects/arrays (`depth` counts the ones around it); -1 otherwise.
 */
function canonicalEnd(u: Codes, s: string, p: number, end: number, depth: number): number {
  const c = u[p]!;
  if (c === 0x22) return canonicalStringEnd(u, p, end);
  if (c === 0x7b || c === 0x5b) {
    if (depth + 1 > MAX_DEPTH) return -1;
    const close = c === 0x7b ? 0x7d : 0x5d;
    let i = p + 1;
    if (u[i]! === close) return i + 1;
    // The object's keys, to refuse a duplicate: the first as its span only (most objects have one).
    let firstKey = -1;
    let firstKeyEnd = -1;
    let keys: string[] | undefined;
    for (;;) {
      if (c === 0x7b) {
        const k = canonicalStringEnd(u, i, end);
        // A key that could be an array index is listed first by JSON.stringify: not this text.
        if (k < 0 || isDigit(u[i + 1]!) || u[k]! !== 0x3a) return -1;
        if (firstKey < 0) {
          firstKey = i;
          firstKeyEnd = k;
        } else {
          keys ??= [s.slice(firstKey, firstKeyEnd)];
          const key = s.slice(i, k);
          if (keys.includes(key)) return -1;
          keys.push(key);
        }
        i = k + 1;
      }
      i = canonicalEnd(u, s, i, end, depth + 1);
      if (i < 0) return -1;
      const next = u[i]!;
      if (next === close) return i + 1;
      if (next !== 0x2c) return -1;
      i++;
    }
  }
  if (c === 0x74) return spells(u, p, 'true') ? p + 4 : -1;
  if (c === 0x66) return spells(u, p, 'false') ? p + 5 : -1;
  if (c === 0x6e) return spells(u, p, 'null') ? p + 4 : -1;
  const q = numberEnd(u, p, end);
  if (q < 0) return -1;
  // A plain integer of up to 15 digits (not -0) is written back as is; else compare.
  const neg = c === 0x2d ? 1 : 0;
  let plain = q - p - neg <= 15 && !(neg && u[p + 1]! === 0x30);
  for (let i = p + neg; plain && i < q; i++) plain = isDigit(u[i]!);
  if (plain) return q;
  const text = s.slice(p, q);
  return String(Number(text)) === text ? q : -1;
}

/** End of a string token written as JSON.stringify writes it (escapes, surrogates), or -1. */
function canonicalStringEnd(u: Codes, p: number, end: number): number {
  if (u[p]! !== 0x22) return -1;
  for (let i = p + 1; i < end; i++) {
    const c = u[i]!;
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      const e = u[++i]!;
      // JSON.stringify's own short escapes; \/ and \uXXXX are read back differently.
      if (e !== 0x22 && e !== 0x5c && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return -1;
    } else if (c < 0x20) return -1;
    else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate is escaped by JSON.stringify; a pair is written as is.
      const lo = u[i + 1]!;
      if (c > 0xdbff || !(lo >= 0xdc00 && lo <= 0xdfff)) return -1;
      i++;
    }
  }
  return -1;
}

/**
 * The code units of `s` (UTF-16), for scanning a string that did not come from an ASCII body.
 * Buffer's native transcoding, not a charCodeAt loop.
 */
export function codesOf(s: string): Codes {
  const b = Buffer.from(s, 'utf16le');
  // A Uint16Array view needs an even offset (small Buffers share a pool).
  const own = b.byteOffset % 2 === 0 ? b : Uint8Array.prototype.slice.call(b);
  return new Uint16Array(own.buffer, own.byteOffset, s.length);
}

/**
 * The event on s[start, end) when the line is in the compact shape and valid as the general path
 * would find it; undefined for anything else (the general path then accepts or refuses it).
 * `u` holds the code units of `s` (its bytes when `s` is an ASCII body read as latin1).
 */
export function scanEventLine(s: string, start: number, end: number, u: Codes = codesOf(s)): RunEventInput | undefined {
  const e = scanEvent(u, s, start, end);
  return e && pos === end ? e : undefined;
}

/**
 * The event whose line starts at s[start] and ends at the next newline (or the end of s), read
 * without looking for that newline first: undefined as scanEventLine would answer it, else the
 * event (scanEnd() then gives the line's end). A raw newline is valid in no token, so the scan
 * never reads past its own line.
 */
export function scanEventLineAt(u: Codes, s: string, start: number): RunEventInput | undefined {
  const e = scanEvent(u, s, start, s.length);
  return e && (pos === s.length || u[pos] === 0x0a) ? e : undefined;
}

/** The end (exclusive) of the line scanEventLineAt last answered. */
export const scanEnd = (): number => pos;

/** The event object starting at s[start] and within s[, end) (pos: just past its `}`), or undefined. */
function scanEvent(u: Codes, s: string, start: number, end: number): RunEventInput | undefined {
  if (u[start]! !== 0x7b) return undefined;
  let seen = 0;
  let seq: number | undefined;
  let timestamp: number | undefined;
  let type: string | undefined;
  let stepKey: string | undefined;
  let assetKey: string | undefined;
  let level: string | undefined;
  let message: string | undefined;
  let data: JsonText | undefined;
  let error: JsonText | undefined;
  let p = start + 1;
  for (;;) {
    if (u[p]! !== 0x22) return undefined;
    // Our keys are short and plain: a char loop finds the closing quote (no indexOf call).
    let k1 = p + 1;
    while (k1 < end && k1 - p <= 9 && u[k1]! !== 0x22) k1++;
    if (k1 >= end || u[k1]! !== 0x22) return undefined;
    const key = keyOf(u, p + 1, k1);
    if (key === 0 || seen & key || u[k1 + 1]! !== 0x3a) return undefined;
    seen |= key;
    p = k1 + 2;
    if (key === K.seq || key === K.timestamp) {
      const n = numberAt(u, s, p, end);
      if (n === undefined) return undefined;
      if (key === K.seq) seq = n;
      else timestamp = n;
    } else if (key === K.data || key === K.error) {
      const q = canonicalEnd(u, s, p, end, 0);
      if (q < 0) return undefined;
      // null is stored as absent, as the general path stores it.
      if (q - p !== 4 || !spells(u, p, 'null')) {
        if (key === K.data) data = new JsonText(s.slice(p, q));
        else error = new JsonText(s.slice(p, q));
      }
      pos = q;
    } else if (key !== K.type && spells(u, p, 'null')) {
      pos = p + 4;
    } else {
      const v = stringAt(u, s, p, end);
      if (v === undefined) return undefined;
      if (key === K.type) type = v;
      else if (key === K.stepKey) stepKey = v;
      else if (key === K.assetKey) assetKey = v;
      else if (key === K.level) level = v;
      else message = v;
    }
    p = pos;
    const c = u[p]!;
    if (c === 0x7d) break;
    if (c !== 0x2c) return undefined;
    p++;
  }
  pos = p + 1;
  if (seq === undefined || !Number.isInteger(seq) || seq > MAX_INT || seq < -MAX_INT - 1) return undefined;
  if (type === undefined || timestamp === undefined || !Number.isFinite(timestamp)) return undefined;
  return { seq, type, timestamp, stepKey, assetKey, level, message, data, error };
}
