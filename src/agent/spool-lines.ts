// Reading events.jsonl lines for shipping. The common line (the run worker's EventSpool writes
// `{"seq":N,"timestamp":T,"type":"X",...}`, the Dagster spool `{"seq":N,"type":"X",...}`) is
// forwarded as its bytes once its head (seq, type) is read off them: no decode, no JSON.parse.
// The control plane validates every line it stores (graphql/event-lines.ts) and refuses a batch
// naming a malformed line; the shipper then re-reads that batch strictly here (JSON.parse and
// RunEventSchema), skipping what is not an event, as it used to for every line. Also the first
// lines a launch report carries (eventLinesAfter) and the byte reads both use (readRange).
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import {
  LOG_LEVELS,
  RUN_EVENT_TYPES,
  RunEventSchema,
  SPOOL_FILES,
  TERMINAL_EVENT_TYPES,
  type RunEvent,
  type RunEventType,
} from '../shared/run-events.js';
import { NO_LINK_NO_WAIT, regularFileSize } from '../shared/user-writable-files.js';

/** What the shipper needs of a line before sending it: its seq, and its type (status, terminal). */
export interface LineHead {
  seq: number;
  type: RunEventType;
}

const EVENT_TYPES: ReadonlySet<string> = new Set(RUN_EVENT_TYPES);

/** The event types by their length in bytes: a line's type is matched, not decoded. */
const TYPES_BY_LENGTH: ReadonlyArray<readonly RunEventType[] | undefined> = (() => {
  const out: RunEventType[][] = [];
  for (const t of RUN_EVENT_TYPES) (out[t.length] ??= []).push(t);
  return out;
})();

/** The event type spelled by buf[from, to) (ASCII), or undefined: no string made per line. */
function typeAt(buf: Buffer, from: number, to: number): RunEventType | undefined {
  const candidates = TYPES_BY_LENGTH[to - from];
  if (!candidates) return undefined;
  for (const t of candidates) {
    let i = 0;
    while (i < t.length && buf[from + i] === t.charCodeAt(i)) i++;
    if (i === t.length) return t;
  }
  return undefined;
}
const SEQ = Buffer.from('{"seq":');
const TIMESTAMP = Buffer.from('"timestamp":');
const TYPE = Buffer.from('"type":"');

/** `lit` at `pos` (a byte loop: Buffer#compare's native call costs more than these few bytes). */
function at(buf: Buffer, pos: number, lit: Buffer): boolean {
  if (pos + lit.length > buf.length) return false;
  for (let i = 0; i < lit.length; i++) if (buf[pos + i] !== lit[i]) return false;
  return true;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
/** A JSON number's characters: digits, `-`, `+`, `.`, `e`, `E`. */
const isNumberChar = (c: number | undefined): boolean =>
  isDigit(c) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;

/**
 * The head of the line `buf[start, end)` when it is written in one of the spool writers' shapes
 * (seq first, an optional timestamp, then type, all top-level keys since the object starts with
 * them) and ends with `}`; undefined for anything else, which then takes the strict path.
 */
export function lineHead(buf: Buffer, start: number, end: number): LineHead | undefined {
  let e = end;
  while (e > start && (buf[e - 1] === 0x20 || buf[e - 1] === 0x0d || buf[e - 1] === 0x09)) e--;
  if (e - start < 16 || buf[e - 1] !== 0x7d) return undefined;
  return headOf(buf, start, e);
}

/**
 * The head at the start of `buf` (a line's first bytes, its end not read: one too long to read
 * whole), in the spool writers' shape; undefined for anything else.
 */
export const leadingHead = (buf: Buffer): LineHead | undefined => headOf(buf, 0, buf.length);

function headOf(buf: Buffer, start: number, e: number): LineHead | undefined {
  if (!at(buf, start, SEQ)) return undefined;
  let p = start + SEQ.length;
  if (!isDigit(buf[p]) || buf[p] === 0x30) return undefined;
  let seq = 0;
  while (isDigit(buf[p])) seq = seq * 10 + (buf[p++]! - 0x30);
  if (!Number.isSafeInteger(seq) || buf[p++] !== 0x2c) return undefined;
  if (at(buf, p, TIMESTAMP)) {
    p += TIMESTAMP.length;
    const from = p;
    while (isNumberChar(buf[p])) p++;
    if (p === from || buf[p++] !== 0x2c) return undefined;
  }
  if (!at(buf, p, TYPE)) return undefined;
  p += TYPE.length;
  const from = p;
  while (p < e && ((buf[p]! >= 0x41 && buf[p]! <= 0x5a) || buf[p] === 0x5f)) p++;
  const type = typeAt(buf, from, p);
  if (buf[p] !== 0x22 || (buf[p + 1] !== 0x2c && buf[p + 1] !== 0x7d) || type === undefined) return undefined;
  return { seq, type };
}

/** The event on a spool line, strictly; `plain` when the line itself is a valid event as written. */
export function parseEvent(line: string): { event: RunEvent; plain: boolean } | undefined {
  try {
    const raw: unknown = JSON.parse(line);
    if (isPlainEvent(raw)) return { event: raw, plain: true };
    const parsed = RunEventSchema.safeParse(raw);
    return parsed.success ? { event: parsed.data, plain: false } : undefined;
  } catch {
    return undefined;
  }
}

const LEVELS: ReadonlySet<unknown> = new Set(LOG_LEVELS);
const PLAIN_KEYS: ReadonlySet<string> = new Set(['seq', 'type', 'timestamp', 'stepKey', 'level', 'message', 'data']);

/**
 * The common event (no `error`, no unknown keys), checked as RunEventSchema checks it without
 * zod's per-field cost; anything else goes through the schema, which has the final word.
 */
function isPlainEvent(v: unknown): v is RunEvent {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  for (const k in e) if (!PLAIN_KEYS.has(k)) return false;
  const { seq, type, timestamp, stepKey, level, message, data } = e;
  return (
    typeof seq === 'number' &&
    Number.isInteger(seq) &&
    seq > 0 &&
    EVENT_TYPES.has(type as string) &&
    typeof timestamp === 'number' &&
    Number.isFinite(timestamp) &&
    (stepKey === undefined || typeof stepKey === 'string') &&
    (level === undefined || LEVELS.has(level)) &&
    (message === undefined || typeof message === 'string') &&
    (data === undefined || (typeof data === 'object' && data !== null && !Array.isArray(data)))
  );
}

/**
 * The complete event lines of a spool after seq `afterSeq`, at most `max`, joined as NDJSON
 * (each as written when it is a plain event, else as the schema parsed it): what a launch sends
 * with its report, so a warm worker's RUN_START needs no round trip of its own. Reads at most
 * the first 64 KiB; what is not sent here the shipper sends (it skips seqs the store has).
 */
export function eventLinesAfter(spoolDir: string, afterSeq: number, max: number): string {
  const chunk = readRange(join(spoolDir, SPOOL_FILES.events), 0, 64 * 1024);
  const end = chunk ? chunk.lastIndexOf(0x0a) : -1;
  if (!chunk || end < 0) return '';
  const out: string[] = [];
  for (const raw of chunk.subarray(0, end).toString('utf8').split('\n')) {
    const line = raw.trim();
    const parsed = line ? parseEvent(line) : undefined;
    if (!parsed || parsed.event.seq <= afterSeq) continue;
    // Contiguous from afterSeq only: the store would leave anything after a gap uncounted.
    if (parsed.event.seq !== afterSeq + out.length + 1) break;
    // A run already over (a fast one on a warm worker): its end goes with supervision, which
    // stores it only after the logs written before it (else SUCCESS could show without them).
    if (TERMINAL_EVENT_TYPES.has(parsed.event.type)) break;
    out.push(parsed.plain ? line : JSON.stringify(parsed.event));
    if (out.length >= max) break;
  }
  return out.join('\n');
}

/**
 * How the agent opens a spool file: the spool is writable by user code (bound into its sandbox),
 * which may replace a file with a symlink to one only the agent can read (its token file, named
 * outside the sandbox) or with a FIFO. Neither is followed nor waited on.
 */
const SPOOL_READ = constants.O_RDONLY | NO_LINK_NO_WAIT;

/**
 * Up to `max` bytes of `file` from `offset`; undefined when the file does not exist yet. Only a
 * regular file is read: a symlink, FIFO or directory planted in its place reads as nothing more.
 */
export function readRange(
  file: string,
  offset: number,
  max: number,
  alloc: (size: number) => Buffer = (size) => Buffer.allocUnsafe(size),
): Buffer | undefined {
  // Sized first: a file with nothing past `offset` (an idle run's every pass, for each of its
  // three files) costs one lstat, not an open, a stat and a close.
  const size = regularFileSize(file);
  if (size === undefined) return undefined;
  if (size === 'other') return Buffer.alloc(0);
  if (Math.min(max, size - offset) <= 0) return Buffer.alloc(0);
  let fd: number;
  try {
    fd = openSync(file, SPOOL_READ);
  } catch (err) {
    // Replaced by a symlink since the lstat (ELOOP): nothing more to read from it.
    return (err as NodeJS.ErrnoException).code === 'ELOOP' ? Buffer.alloc(0) : undefined;
  }
  try {
    // Sized again from what was opened (it may have been replaced since the lstat).
    const st = fstatSync(fd);
    const len = st.isFile() ? Math.min(max, st.size - offset) : 0;
    if (len <= 0) return Buffer.alloc(0);
    // Unfilled: every byte up to n is read over it, and only those are used.
    const buf = alloc(len);
    const n = readSync(fd, buf, 0, len, offset);
    // The very buffer when whole (a pool knows it by identity).
    return n === len ? buf : buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
