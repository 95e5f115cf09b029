// The event-line scanner (graphql/event-line-scan.ts) against the general path it stands in for
// (JSON.parse + the RunEventInput checks, then the store's JSON.stringify): over many shapes of
// lines (the writers' compact JSON, and odd ones: whitespace, escapes, number spellings,
// duplicate and array-index keys, lone surrogates, depth at and past the limit, wrong types,
// unknown fields, mutations of good lines), whatever the scanner answers is exactly what the
// general path gives (same fields, same stored text of data/error), and parseEventLines refuses
// a batch with the same error either way.
import assert from 'node:assert/strict';
import { isAscii } from 'node:buffer';
import { test } from 'node:test';
import { scanEventLine } from '../../../src/control-plane/graphql/event-line-scan.js';
import { bodyText, parseEventLines, toEvent } from '../../../src/control-plane/graphql/event-lines.js';
import { FIXED_INPUT_LIMITS } from '../../../src/control-plane/limits.js';
import { storedJson } from '../../../src/control-plane/store/json-text.js';
import type { RunEventInput } from '../../../src/control-plane/store/run-events.js';

/** What the store writes for an event: the row's columns, data and error as stored text. */
const stored = (e: RunEventInput) => [
  e.seq,
  e.type,
  e.timestamp,
  e.stepKey ?? null,
  e.assetKey ?? null,
  e.level ?? null,
  e.message ?? null,
  storedJson(e.data),
  storedJson(e.error),
];

function reference(line: string): { row?: unknown[]; err?: string } {
  try {
    return { row: stored(toEvent(0, line)) };
  } catch (e) {
    return { err: `${(e as { code?: string }).code} ${(e as Error).message}` };
  }
}

/** Seeded PRNG (mulberry32): the same shapes on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHARS = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\u0001', '\u001f', '\u007f', 'é', '€', '\u2028'];
const CHARS2 = ['😀', '\ud800', '\udc00', '\ud83d\ude00x', '\ufeff'];

function gen(r: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const str = (): string => {
    let s = '';
    const n = Math.floor(r() * 6);
    for (let i = 0; i < n; i++) s += r() < 0.85 ? pick(CHARS) : pick(CHARS2);
    return s;
  };
  const num = (): number =>
    pick([0, -0, 1, -1, 42, 1.5, -2.25, 1e21, 1e-7, 123456789012345, 2 ** 53, 0.1 + 0.2, 2 ** 31, -(2 ** 31) - 1]);
  const value = (depth: number): unknown => {
    const k = r();
    if (depth > 3 || k < 0.35) return pick([str(), num(), true, false, null]);
    if (k < 0.65) return Array.from({ length: Math.floor(r() * 4) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    const n = Math.floor(r() * 4);
    for (let i = 0; i < n; i++) o[pick(['a', 'b', '1', '0', '__proto__', 'x y', str()])] = value(depth + 1);
    return o;
  };
  const e: Record<string, unknown> = {
    seq: r() < 0.9 ? Math.floor(r() * 1000) + 1 : num(),
    timestamp: r() < 0.8 ? 1_700_000_000_000 + Math.floor(r() * 1e6) : num(),
    type: r() < 0.95 ? pick(['LOG', 'STEP_START', 'ASSET_MATERIALIZATION', 'NOPE']) : num(),
  };
  for (const f of ['stepKey', 'assetKey', 'level', 'message'])
    if (r() < 0.6) e[f] = r() < 0.9 ? str() : pick([null, 1]);
  if (r() < 0.7) e.data = value(0);
  if (r() < 0.3) e.error = value(0);
  if (r() < 0.03) e.extra = 1;
  if (r() < 0.03) delete e[pick(['seq', 'type', 'timestamp'])];
  return e;
}

/** Spellings of the same line that JSON.stringify would not write. */
function variants(r: () => number, line: string): string[] {
  const at = Math.floor(r() * line.length);
  return [
    line,
    line.replace(/,/g, ', '),
    line.replace(/:/, ' : '),
    ` ${line}\r`,
    line.replace(/"a"/, '"\\u0061"'),
    line.replace(/é/, '\\u00e9'),
    line.replace(/\//, '\\/'),
    line.replace(/:1(?=[,}\]])/, ':1.0'),
    line.replace(/:42(?=[,}\]])/, ':4.2e1'),
    line.replace(/:0(?=[,}\]])/, ':-0'),
    line.replace(/"data":\{/, '"data":{"a":1,"a":2,'),
    line.replace(/"data":\{/, '"data":{"b":1,"2":2,'),
    line.replace(/^\{/, '{"seq":7,'),
    line.replace(/"seq":\d+/, '"seq":1e2'),
    line.replace(/"seq":\d+/, '"seq":01'),
    line.replace(/"timestamp":\d+/, '"timestamp":1e400'),
    line.replace(/"timestamp":\d+/, '"timestamp":-1.5E+3'),
    line.slice(0, at),
    line.slice(0, at) + line.slice(at + 1),
    line.slice(0, at) + pick(r, ['"', '\\', '}', '{', ',', ':', 'n', '\u0000', '1']) + line.slice(at),
  ];
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const nest = (n: number): string => '['.repeat(n) + ']'.repeat(n);
const objNest = (n: number): string => '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1);

test('every line the scanner answers is stored exactly as the general path stores it', () => {
  const r = rng(15);
  const head = '{"seq":3,"timestamp":1700000000003,"type":"LOG"';
  const lines: string[] = [
    `{"seq":5,"timestamp":1700000000005,"type":"LOG","stepKey":"chatter","level":"info","message":"chatter","data":{"i":5}}`,
    `${head}}`,
    `${head},"data":null,"error":null,"stepKey":null,"message":"a\\nb \\"q\\" \\u00e9 \\ud800"}`,
    `${head},"data":{"__proto__":{"x":1}},"error":"e"}`,
    `${head},"data":{"":1,"é":[1,-0.5,1e+21,1e-7,true,false,null,"\\\\\\"\\b\\f\\n\\r\\t"]}}`,
    `${head},"data":${nest(FIXED_INPUT_LIMITS.maxJsonDepth)}}`,
    `${head},"data":${nest(FIXED_INPUT_LIMITS.maxJsonDepth + 1)}}`,
    `${head},"data":${objNest(FIXED_INPUT_LIMITS.maxJsonDepth)}}`,
    `${head},"data":${objNest(FIXED_INPUT_LIMITS.maxJsonDepth + 1)}}`,
    `${head},"error":{"a":{"b":[{"c":"\ud83d\ude00"}]}},"data":"\\u0001"}`,
    `{"seq":2147483647,"timestamp":-0,"type":""}`,
    `{"seq":2147483648,"timestamp":1,"type":"LOG"}`,
    `{"seq":-2147483648,"timestamp":1.5,"type":"LOG"}`,
    `{"seq":1.5,"timestamp":1,"type":"LOG"}`,
    `{"seq":1,"timestamp":"1","type":"LOG"}`,
    `{"seq":1,"timestamp":1,"type":null}`,
    `{"seq":1,"timestamp":1,"type":"LOG","level":5}`,
    `{"seq":1,"timestamp":1,"type":"LOG","bogus":5}`,
    `{"seq":1,"timestamp":1,"type":"LOG","seq":2}`,
    `{"seq":1,"timestamp":1,"type":"LOG"}x`,
    `[1]`,
    `{}`,
    `null`,
  ];
  for (let i = 0; i < 3000; i++) lines.push(...variants(r, JSON.stringify(gen(r))));
  let fast = 0;
  for (const line of lines) {
    const got = scanEventLine(line, 0, line.length);
    // An ASCII line is scanned off its own bytes on the endpoint: the same answer either way.
    if (isAscii(Buffer.from(line))) {
      const bytes = Buffer.from(line, 'latin1');
      assert.deepEqual({ line, bytes: scanEventLine(line, 0, line.length, bytes) }, { line, bytes: got });
    }
    if (got === undefined) continue;
    fast++;
    assert.deepEqual({ line, ...reference(line) }, { line, row: stored(got) });
  }
  // The scanner must be exercised, not bypassed: most compact lines take it.
  assert.ok(fast > 5000, `only ${fast} of ${lines.length} lines took the fast path`);
  const ours = lines[0]!;
  assert.ok(scanEventLine(ours, 0, ours.length), "the writers' compact line takes the fast path");
});

test('a batch is refused with the same error, and parsed to the same rows, with or without the scanner', () => {
  const r = rng(16);
  for (let b = 0; b < 400; b++) {
    const lines = Array.from({ length: 1 + Math.floor(r() * 6) }, () => {
      const line = JSON.stringify(gen(r));
      return r() < 0.15 ? pick(r, variants(r, line)) : line;
    });
    const body = lines.join(r() < 0.5 ? '\n' : '\n\n') + (r() < 0.5 ? '\n' : '');
    let want: { rows?: unknown[]; err?: string };
    try {
      const parsed: RunEventInput[] = [];
      for (const l of body.split('\n')) if (l.trim() !== '') parsed.push(toEvent(parsed.length, l));
      want = { rows: parsed.map(stored) };
    } catch (e) {
      want = { err: `${(e as { code?: string }).code} ${(e as Error).message}` };
    }
    let got: { rows?: unknown[]; err?: string };
    try {
      got = { rows: parseEventLines(body).map(stored) };
    } catch (e) {
      got = { err: `${(e as { code?: string }).code} ${(e as Error).message}` };
    }
    assert.deepEqual({ body, ...got }, { body, ...want });
    // As the endpoint reads it: off the body's bytes (its own when ASCII).
    let viaBytes: { rows?: unknown[]; err?: string };
    try {
      const { text, codes } = bodyText(Buffer.from(body));
      viaBytes = { rows: parseEventLines(text, codes).map(stored) };
    } catch (e) {
      viaBytes = { err: `${(e as { code?: string }).code} ${(e as Error).message}` };
    }
    assert.deepEqual({ body, ...viaBytes }, { body, ...want });
  }
});
