// How an event becomes its spool line: byte for byte the strict serialization (seq, timestamp,
// then the event's own keys in order; log fields as JSON.stringify with BigInt/Error handling
// would give them), without a JSON round trip per event on the common path (flat log fields).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EventSpool, type NewEvent } from '../../../src/user-code/run-worker/event-spool.js';
import { executeJob } from '../../../src/user-code/run-worker/run-executor.js';
import { job, op } from '../../../src/user-code/sdk/definitions.js';
import { serializeError } from '../../../src/shared/run-events.js';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'outpost-encoding-')), 'events.jsonl');
const fileLines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean);
const timestampOf = (line: string) => (JSON.parse(line) as { timestamp: number }).timestamp;

/** What a log call's fields were always stored as: one JSON round trip with this replacer. */
function strictFields(fields: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(fields, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Error) return serializeError(v);
      return v;
    }),
  ) as Record<string, unknown>;
}

async function runOp(body: (log: (m: string, f?: Record<string, unknown>) => void) => void): Promise<string> {
  const path = fresh();
  const spool = new EventSpool(path);
  const only = op({ name: 'only' }, (ctx) => body((m, f) => ctx.log.info(m, f)));
  await executeJob({
    runId: 'r',
    job: job({ name: 'j', ops: [only] }),
    runConfig: {},
    maxConcurrency: 1,
    signal: new AbortController().signal,
    emit: (e) => void spool.append(e),
    checkpoint: () => spool.sync(),
  });
  spool.close();
  return path;
}

describe('event encoding', () => {
  test('spool lines are the strict serialization of {seq, timestamp, ...event}', () => {
    const path = fresh();
    const spool = new EventSpool(path);
    const events: NewEvent[] = [
      { type: 'RUN_START', message: 'Started "run" \u2028 é 😀', data: { a: [1, { b: null }], c: 'x' } },
      { type: 'LOG', stepKey: 's', level: 'info', message: 'quote " backslash \\ newline \n', data: { n: NaN } },
      { type: 'LOG', stepKey: undefined, level: 'warn', message: undefined },
      { type: 'STEP_FAILURE', stepKey: 's', error: { name: 'E', message: 'm', stack: 'at x' }, data: {} },
      { type: 'RUN_FAILURE', message: 'end' },
    ];
    for (const e of events) spool.append(e);
    spool.close();
    const got = fileLines(path);
    assert.equal(got.length, events.length);
    got.forEach((line, i) =>
      assert.equal(line, JSON.stringify({ seq: i + 1, timestamp: timestampOf(line), ...events[i] })),
    );
  });

  test('log fields are stored as their strict JSON round trip, whatever they hold', async () => {
    const cyclic: Record<string, unknown> = { k: 1 };
    cyclic.self = cyclic;
    const cases: Array<Record<string, unknown>> = [
      { i: 1, s: 'é "q"', b: true, z: null, u: undefined, nan: NaN, inf: -Infinity, neg: -0 },
      { big: 10n, when: new Date(0), err: new Error('boom'), nested: { deep: [1, 2n] } },
      { fn: () => 1, sym: Symbol('s') },
      Object.assign(Object.create({ inherited: 1 }) as Record<string, unknown>, { own: 2 }),
      { toJSON: () => ({ replaced: true }) },
      {},
    ];
    const path = await runOp((log) => {
      for (const f of cases) log('m', f);
      log('cyclic', cyclic);
    });
    const logs = fileLines(path).filter((l) => l.includes('"type":"LOG"'));
    assert.equal(logs.length, cases.length + 1);
    cases.forEach((f, i) => {
      const line = logs[i]!;
      const expected = { seq: 0, timestamp: 0, type: 'LOG', stepKey: 'only', level: 'info', message: 'm' };
      const head = JSON.parse(line) as { seq: number; timestamp: number };
      assert.equal(line, JSON.stringify({ ...expected, ...head, data: strictFields(f) }), `case ${i}`);
    });
    assert.match(logs.at(-1)!, /"data":\{"unserializable":"TypeError: Converting circular structure/);
  });

  test('flat log fields cost no JSON.parse per event', async () => {
    const N = 500;
    const realParse = JSON.parse;
    let parses = 0;
    JSON.parse = ((...args: Parameters<typeof JSON.parse>) => {
      parses++;
      return realParse(...args) as unknown;
    }) as typeof JSON.parse;
    let path: string;
    try {
      path = await runOp((log) => {
        for (let i = 0; i < N; i++) log('chatter', { i, s: `v${i}`, ok: i % 2 === 0, none: null });
      });
    } finally {
      JSON.parse = realParse;
    }
    assert.ok(parses < N / 10, `${parses} JSON.parse calls for ${N} events`);
    const logs = fileLines(path).filter((l) => l.includes('"type":"LOG"'));
    assert.equal(logs.length, N);
    assert.deepEqual((JSON.parse(logs[7]!) as { data: unknown }).data, { i: 7, s: 'v7', ok: false, none: null });
  });
});
