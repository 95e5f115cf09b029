// The UI's pure client modules (served to the browser as-is), tested in Node: the op-graph
// layout, the JSON Schema checker behind the launch form, and the run timeline's step spans.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
// @ts-expect-error plain browser ES module without types
import { layoutOpGraph, NODE_W } from '../../../src/control-plane/web/assets/lib/graph-layout.js';
// @ts-expect-error plain browser ES module without types
import { exampleFor, validate } from '../../../src/control-plane/web/assets/lib/json-schema.js';
// @ts-expect-error plain browser ES module without types
import { stepSpans } from '../../../src/control-plane/web/assets/views/run-timeline.js';

interface Layout {
  nodes: Array<{ name: string; layer: number; row: number; x: number; y: number }>;
  edges: Array<{ from: string; to: string; path: string }>;
  width: number;
  height: number;
}
type Problem = { path: string; message: string };
const layout = layoutOpGraph as (ops: unknown[]) => Layout;
const check = validate as (schema: unknown, value: unknown) => Problem[];
const example = exampleFor as (schema: unknown) => unknown;

const op = (name: string, ...from: string[]): unknown => ({
  name,
  inputs: from.map((f) => ({ name: f, fromOp: f, fromOutput: 'result' })),
});

describe('op graph layout', () => {
  test('layers follow the longest path from the sources', () => {
    const g = layout([op('d', 'b', 'c'), op('a'), op('b', 'a'), op('c', 'a', 'b')]);
    const layer = Object.fromEntries(g.nodes.map((n) => [n.name, n.layer]));
    assert.deepEqual(layer, { a: 0, b: 1, c: 2, d: 3 });
    assert.equal(g.edges.length, 5);
    for (const e of g.edges) {
      const a = g.nodes.find((n) => n.name === e.from)!;
      const b = g.nodes.find((n) => n.name === e.to)!;
      assert.ok(a.x + NODE_W <= b.x, `${e.from} is left of ${e.to}`);
    }
  });

  test('nodes never overlap and fit in the reported size', () => {
    const ops = [op('src'), ...Array.from({ length: 6 }, (_, i) => op(`mid${i}`, 'src')), op('sink', 'mid0', 'mid5')];
    const g = layout(ops);
    const seen = new Set(g.nodes.map((n) => `${n.x},${n.y}`));
    assert.equal(seen.size, g.nodes.length);
    for (const n of g.nodes) {
      assert.ok(n.x >= 0 && n.y >= 0 && n.x + NODE_W <= g.width && n.y <= g.height);
    }
    assert.equal(new Set(g.nodes.filter((n) => n.layer === 1).map((n) => n.row)).size, 6);
  });

  test('unknown upstream ops, self-loops and cycles do not break it', () => {
    const g = layout([op('a', 'ghost', 'a'), op('b', 'c'), op('c', 'b')]);
    assert.equal(g.nodes.length, 3);
    assert.ok(g.edges.every((e) => e.from !== 'ghost' && e.from !== e.to));
    assert.deepEqual(layout([]).nodes, []);
  });
});

describe('config schema checker', () => {
  const schema = {
    type: 'object',
    properties: {
      seconds: { type: 'integer', minimum: 0, maximum: 3600, default: 5 },
      mode: { enum: ['fast', 'slow'] },
      name: { type: 'string', minLength: 1, pattern: '^[a-z]+$' },
      list: { type: 'array', items: { type: 'number' }, maxItems: 2 },
    },
    required: ['seconds', 'name'],
    additionalProperties: false,
  };

  test('a valid config has no problems', () => {
    assert.deepEqual(check(schema, { seconds: 3, name: 'abc', mode: 'fast', list: [1, 2.5] }), []);
  });

  test('each kind of mistake is reported with its path', () => {
    const problems = check(schema, { seconds: 1.5, mode: 'medium', list: [1, 'x', 3], extra: true });
    const text = problems.map((p) => `${p.path}: ${p.message}`);
    assert.ok(text.includes('(root): missing required property "name"'), text.join('\n'));
    assert.ok(text.includes('seconds: must be integer, got number'));
    assert.ok(text.some((t) => t.startsWith('mode: must be one of')));
    assert.ok(text.includes('list[1]: must be number, got string'));
    assert.ok(text.includes('list: must have at most 2 items'));
    assert.ok(text.includes('(root): unknown property "extra"'));
    assert.deepEqual(
      check(schema, { seconds: 4000, name: 'A' }).map((p) => p.path),
      ['seconds', 'name'],
    );
    assert.deepEqual(check({ type: 'object' }, [1]), [{ path: '(root)', message: 'must be object, got array' }]);
  });

  test('anyOf / oneOf', () => {
    const s = { oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'number' }] };
    assert.equal(check(s, 'x').length, 0);
    assert.equal(check(s, 1.5).length, 0);
    assert.match(check(s, 2)[0]!.message, /more than one/);
    assert.match(check(s, true)[0]!.message, /exactly one/);
  });

  test('the starting config fills defaults and required fields', () => {
    assert.deepEqual(example(schema), { seconds: 5, name: '' });
    assert.deepEqual(example({}), {});
    assert.deepEqual(example({ type: 'object', properties: { n: { type: 'integer', minimum: 1 } }, required: ['n'] }), {
      n: 1,
    });
  });
});

describe('run timeline: step spans', () => {
  test('a step stopped by termination is CANCELED, not FAILURE', () => {
    const spans = (stepSpans as (events: unknown[]) => Array<{ key: string; status: string; end: number }>)([
      { type: 'STEP_START', stepKey: 'a', timestamp: 1000 },
      { type: 'STEP_SUCCESS', stepKey: 'a', timestamp: 2000 },
      { type: 'STEP_START', stepKey: 'nap', timestamp: 2000 },
      { type: 'STEP_CANCELED', stepKey: 'nap', timestamp: 5000 },
      { type: 'STEP_START', stepKey: 'bad', timestamp: 2000 },
      { type: 'STEP_FAILURE', stepKey: 'bad', timestamp: 3000 },
    ]);
    assert.deepEqual(
      spans.map((s) => [s.key, s.status, s.end]),
      [
        ['a', 'SUCCESS', 2000],
        ['nap', 'CANCELED', 5000],
        ['bad', 'FAILURE', 3000],
      ],
    );
  });

  test('a retried Dagster step shows each attempt, from its own start to its own end', () => {
    // What a RetryPolicy of 2 and a RetryRequested make: STEP_UP_FOR_RETRY ends an attempt and
    // STEP_RESTARTED starts the next (both ENGINE events carrying their Dagster type).
    const engine = (dagsterEventType: string, timestamp: number) => ({
      type: 'ENGINE',
      stepKey: 'flaky',
      timestamp,
      data: { dagsterEventType },
    });
    const spans = (
      stepSpans as (events: unknown[]) => Array<{
        key: string;
        status: string;
        start: number;
        end: number;
        attempts: Array<{ start: number; end: number; status: string }>;
      }>
    )([
      engine('STEP_WORKER_STARTING', 500),
      { type: 'STEP_START', stepKey: 'flaky', timestamp: 1000 },
      engine('STEP_UP_FOR_RETRY', 1100),
      engine('STEP_WORKER_STARTING', 5000),
      engine('STEP_RESTARTED', 6000),
      engine('STEP_UP_FOR_RETRY', 6100),
      engine('STEP_RESTARTED', 9000),
      { type: 'STEP_SUCCESS', stepKey: 'flaky', timestamp: 9100 },
      { type: 'STEP_START', stepKey: 'once', timestamp: 1000 },
      { type: 'STEP_SUCCESS', stepKey: 'once', timestamp: 1500 },
    ]);
    assert.deepEqual(
      spans.map((s) => [s.key, s.status, s.start, s.end, s.attempts.map((a) => [a.start, a.end, a.status])]),
      [
        [
          'flaky',
          'SUCCESS',
          1000,
          9100,
          [
            [1000, 1100, 'RETRY'],
            [6000, 6100, 'RETRY'],
            [9000, 9100, 'SUCCESS'],
          ],
        ],
        ['once', 'SUCCESS', 1000, 1500, [[1000, 1500, 'SUCCESS']]],
      ],
    );
  });

  test('a step waiting to be retried is not running', () => {
    const spans = (stepSpans as (events: unknown[]) => Array<{ status: string; end?: number }>)([
      { type: 'STEP_START', stepKey: 'flaky', timestamp: 1000 },
      { type: 'ENGINE', stepKey: 'flaky', timestamp: 1100, data: { dagsterEventType: 'STEP_UP_FOR_RETRY' } },
    ]);
    assert.deepEqual(
      spans.map((s) => [s.status, s.end]),
      [['RETRY', 1100]],
    );
  });
});
