// The fast path of event-lines.ts: one pass over a line in the shape our writers produce (compact
// JSON, as JSON.stringify and the Dagster spool write it), without JSON.parse building objects
// that the store would only JSON.stringify again. It answers only what it can vouch for: a line
// the general path (JSON.parse + the RunEventInput checks) would accept, with the same field
// values, and `data`/`error` whose text is exactly what JSON.stringify(JSON.parse(text)) gives
// (no whitespace, canonical numbers and escapes, no duplicate or array-index keys, depth within
// maxJsonDepth). Anything else (an error, an odd but valid shape) answers undefined, and the
// general path decides, so the stored bytes and the refusals are the general path's.
import { FIXED_INPUT_LIMITS } from '../limits.js';
import { JsonText } from '../store/json-text.js';
import type { RunEventInput } from '../store/run-events.js';

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

/** The top-level key spelled in s[a, b) (no escapes), or 0 when it is not one. */
function keyOf(s: string, a: number, b: number): number {
  // No closure here: tsx's keepNames would wrap one per call.
  switch (b - a) {
    case 3:
      return s.startsWith('seq', a) ? K.seq : 0;
    case 4:
      return s.startsWith('type', a) ? K.type : s.startsWith('data', a) ? K.data : 0;
    case 5:
      return s.startsWith('level', a) ? K.level : s.startsWith('error', a) ? K.error : 0;
    case 7:
      return s.startsWith('message', a) ? K.message : s.startsWith('stepKey', a) ? K.stepKey : 0;
    case 8:
      return s.startsWith('assetKey', a) ? K.assetKey : 0;
    case 9:
      return s.startsWith('timestamp', a) ? K.timestamp : 0;
    default:
      return 0;
  }
}

// Scanner state: the end of the last token read (module-level: one line at a time, no allocation).
let pos = 0;

/** A string token at s[p] ('"'): its value, or undefined (not a plain valid string). */
function stringAt(s: string, p: number, end: number): string | undefined {
  if (s.charCodeAt(p) !== 0x22) return undefined;
  let escaped = false;
  for (let i = p + 1; i < end; i++) {
    const c = s.charCodeAt(i);
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
function numberEnd(s: string, p: number, end: number): number {
  let i = p;
  if (s.charCodeAt(i) === 0x2d) i++;
  const first = s.charCodeAt(i);
  if (first === 0x30) i++;
  else if (first >= 0x31 && first <= 0x39) while (i < end && isDigit(s.charCodeAt(i))) i++;
  else return -1;
  if (s.charCodeAt(i) === 0x2e) {
    const d = ++i;
    while (i < end && isDigit(s.charCodeAt(i))) i++;
    if (i === d) return -1;
  }
  const e = s.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    i++;
    const sign = s.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) i++;
    const d = i;
    while (i < end && isDigit(s.charCodeAt(i))) i++;
    if (i === d) return -1;
  }
  return i;
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** A JSON number at s[p] as JSON.parse reads it (sets pos), or undefined. */
function numberAt(s: string, p: number, end: number): number | undefined {
  // The common case, a plain integer of up to 15 digits, is exact when summed digit by digit.
  let n = 0;
  let i = p;
  for (; i < end && i - p < 15; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  const after = s.charCodeAt(i);
  if (i > p && (i === p + 1 || s.charCodeAt(p) !== 0x30) && (after === 0x2c || after === 0x7d)) {
    pos = i;
    return n;
  }
  const q = numberEnd(s, p, end);
  if (q < 0) return undefined;
  pos = q;
  return Number(s.slice(p, q));
}

/**
 * End of the JSON value at s[p] when its text is what JSON.stringify(JSON.parse(text)) writes,
 * nesting at most MAX_DEPTH objects/arrays (`depth` counts the ones around it); -1 otherwise.
 */
function canonicalEnd(s: string, p: number, end: number, depth: number): number {
  const c = s.charCodeAt(p);
  if (c === 0x22) return canonicalStringEnd(s, p, end);
  if (c === 0x7b || c === 0x5b) {
    if (depth + 1 > MAX_DEPTH) return -1;
    const close = c === 0x7b ? 0x7d : 0x5d;
    let i = p + 1;
    if (s.charCodeAt(i) === close) return i + 1;
    let keys: string[] | undefined;
    for (;;) {
      if (c === 0x7b) {
        const k = canonicalStringEnd(s, i, end);
        // A key that could be an array index is listed first by JSON.stringify: not this text.
        if (k < 0 || isDigit(s.charCodeAt(i + 1)) || s.charCodeAt(k) !== 0x3a) return -1;
        const key = s.slice(i, k);
        if (keys === undefined) keys = [key];
        else if (keys.includes(key)) return -1;
        else keys.push(key);
        i = k + 1;
      }
      i = canonicalEnd(s, i, end, depth + 1);
      if (i < 0) return -1;
      const next = s.charCodeAt(i);
      if (next === close) return i + 1;
      if (next !== 0x2c) return -1;
      i++;
    }
  }
  if (c === 0x74) return s.startsWith('true', p) ? p + 4 : -1;
  if (c === 0x66) return s.startsWith('false', p) ? p + 5 : -1;
  if (c === 0x6e) return s.startsWith('null', p) ? p + 4 : -1;
  const q = numberEnd(s, p, end);
  if (q < 0) return -1;
  // A plain integer of up to 15 digits (not -0) is written back as is; else compare.
  const neg = c === 0x2d ? 1 : 0;
  let plain = q - p - neg <= 15 && !(neg && s.charCodeAt(p + 1) === 0x30);
  for (let i = p + neg; plain && i < q; i++) plain = isDigit(s.charCodeAt(i));
  if (plain) return q;
  const text = s.slice(p, q);
  return String(Number(text)) === text ? q : -1;
}

/** End of a string token written as JSON.stringify writes it (escapes, surrogates), or -1. */
function canonicalStringEnd(s: string, p: number, end: number): number {
  if (s.charCodeAt(p) !== 0x22) return -1;
  for (let i = p + 1; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      const e = s.charCodeAt(++i);
      // JSON.stringify's own short escapes; \/ and \uXXXX are read back differently.
      if (e !== 0x22 && e !== 0x5c && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return -1;
    } else if (c < 0x20) return -1;
    else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate is escaped by JSON.stringify; a pair is written as is.
      const lo = s.charCodeAt(i + 1);
      if (c > 0xdbff || !(lo >= 0xdc00 && lo <= 0xdfff)) return -1;
      i++;
    }
  }
  return -1;
}

/**
 * The event on s[start, end) when the line is in the compact shape and valid as the general path
 * would find it; undefined for anything else (the general path then accepts or refuses it).
 */
export function scanEventLine(s: string, start: number, end: number): RunEventInput | undefined {
  if (s.charCodeAt(start) !== 0x7b || s.charCodeAt(end - 1) !== 0x7d) return undefined;
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
    if (s.charCodeAt(p) !== 0x22) return undefined;
    const k1 = s.indexOf('"', p + 1);
    if (k1 < 0 || k1 >= end) return undefined;
    const key = keyOf(s, p + 1, k1);
    if (key === 0 || seen & key || s.charCodeAt(k1 + 1) !== 0x3a) return undefined;
    seen |= key;
    p = k1 + 2;
    if (key === K.seq || key === K.timestamp) {
      const n = numberAt(s, p, end);
      if (n === undefined) return undefined;
      if (key === K.seq) seq = n;
      else timestamp = n;
    } else if (key === K.data || key === K.error) {
      const q = canonicalEnd(s, p, end, 0);
      if (q < 0) return undefined;
      // null is stored as absent, as the general path stores it.
      if (q - p !== 4 || !s.startsWith('null', p)) {
        if (key === K.data) data = new JsonText(s.slice(p, q));
        else error = new JsonText(s.slice(p, q));
      }
      pos = q;
    } else if (key !== K.type && s.startsWith('null', p)) {
      pos = p + 4;
    } else {
      const v = stringAt(s, p, end);
      if (v === undefined) return undefined;
      if (key === K.type) type = v;
      else if (key === K.stepKey) stepKey = v;
      else if (key === K.assetKey) assetKey = v;
      else if (key === K.level) level = v;
      else message = v;
    }
    p = pos;
    const c = s.charCodeAt(p);
    if (c === 0x7d) break;
    if (c !== 0x2c) return undefined;
    p++;
  }
  if (p !== end - 1) return undefined;
  if (seq === undefined || !Number.isInteger(seq) || seq > MAX_INT || seq < -MAX_INT - 1) return undefined;
  if (type === undefined || timestamp === undefined || !Number.isFinite(timestamp)) return undefined;
  return { seq, type, timestamp, stepKey, assetKey, level, message, data, error };
}
