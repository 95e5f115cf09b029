// The launch path's run-config interpreter (core/config-validator.ts) against ajv, the validator it
// replaced: for the schemas config schemas are made of (zod/v4's published JSON Schema, the
// Dagster config-type translation, hand-written ones), both give the same verdict and name the same
// bad fields; keywords it does not check are never skipped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { z } from 'zod/v4';
import { compileConfigSchema } from '../../../src/control-plane/core/config-validator.js';
import { strictConfigSchema } from '../../../src/control-plane/core/strict-config.js';
import { configTypeToJsonSchema } from '../../../src/agent/dagster/config-type-schema.js';

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

type Case = { name: string; schema: Record<string, unknown>; configs: unknown[] };

const zodSchema = (s: z.ZodType) => {
  const { $schema: _s, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
};
type Tree = { name: string; kids: Tree[] };
const tree: z.ZodType<Tree> = z.lazy(() => z.object({ name: z.string(), kids: z.array(tree) }));

const CASES: Case[] = [
  {
    name: 'zod: scalars, checks, formats, defaults',
    schema: zodSchema(
      z.object({
        seconds: z.number().default(5),
        n: z.int().min(1).max(10).optional(),
        odd: z.number().multipleOf(3).gt(0).lt(100).optional(),
        name: z.string().min(2).max(4).optional(),
        rx: z.string().regex(/^a+b$/).optional(),
        email: z.email().optional(),
        when: z.iso.datetime().optional(),
        day: z.iso.date().optional(),
        id: z.uuid().optional(),
        url: z.url().optional(),
        ip: z.ipv4().optional(),
        mode: z.enum(['fast', 'slow']).optional(),
        three: z.literal(3).optional(),
      }),
    ),
    configs: [
      {},
      { seconds: 1 },
      { seconds: 'ten' },
      { secnods: 1 },
      { n: 0 },
      { n: 1.5 },
      { n: 11 },
      { odd: 4 },
      { odd: 0 },
      { odd: 100 },
      { name: 'x' },
      { name: 'abcde' },
      { name: '😀😀' },
      { rx: 'aab' },
      { rx: 'b' },
      { email: 'a@b.co' },
      { email: 'nope' },
      { when: '2026-01-02T03:04:05Z' },
      { when: 'yesterday' },
      { day: '2026-02-30' },
      { day: '2026-02-28' },
      { id: '6f1c1c9e-8a51-4b6e-9f7e-0a0a0a0a0a0a' },
      { id: 'x' },
      { url: 'https://example.com/a' },
      { url: 'not a url' },
      { ip: '10.0.0.1' },
      { ip: '300.0.0.1' },
      { mode: 'fast' },
      { mode: 'medium' },
      { three: 3 },
      { three: 4 },
      null,
      [],
      'x',
    ],
  },
  {
    name: 'zod: arrays, tuples, records, nullables, unions, intersections, recursion',
    schema: zodSchema(
      z.object({
        items: z
          .array(z.object({ kind: z.enum(['x', 'y']), size: z.number().int().min(0) }))
          .min(1)
          .max(2)
          .optional(),
        pair: z.tuple([z.string(), z.number()]).optional(),
        env: z.record(z.string().regex(/^[A-Z]+$/), z.string()).optional(),
        maybe: z.string().nullable().optional(),
        either: z.union([z.literal('auto'), z.object({ every: z.number() })]).optional(),
        tagged: z
          .discriminatedUnion('k', [z.object({ k: z.literal('a') }), z.object({ k: z.literal('b'), v: z.number() })])
          .optional(),
        both: z.intersection(z.object({ a: z.string() }), z.object({ b: z.number() })).optional(),
        tree: tree.optional(),
      }),
    ),
    configs: [
      { items: [{ kind: 'x', size: 1 }] },
      { items: [] },
      {
        items: [
          { kind: 'z', size: -1 },
          { kind: 'x', size: 1 },
          { kind: 'y', size: 2 },
        ],
      },
      { items: [{ kind: 'x', size: 1, extra: true }] },
      { pair: ['a', 1] },
      { pair: [1, 'a'] },
      { pair: ['a', 1, 2] },
      { env: { HOME: '/h' } },
      { env: { home: '/h' } },
      { env: { HOME: 1 } },
      { maybe: null },
      { maybe: 3 },
      { either: 'auto' },
      { either: { every: 2 } },
      { either: { every: 'x' } },
      { either: { evry: 2 } },
      { tagged: { k: 'a' } },
      { tagged: { k: 'b', v: 1 } },
      { tagged: { k: 'b' } },
      { tagged: { k: 'a', v: 1 } },
      { both: { a: 'x', b: 1 } },
      { both: { a: 'x' } },
      { both: { a: 'x', b: 1, c: 2 } },
      { tree: { name: 'r', kids: [{ name: 'k', kids: [] }] } },
      { tree: { name: 'r', kids: [{ name: 1, kids: [] }] } },
      { tree: { name: 'r', kids: [{ name: 'k', kids: [], x: 1 }] } },
    ],
  },
  {
    name: 'Dagster config types (shape, selector, permissive, map, noneable, array, enum)',
    schema: configTypeToJsonSchema('Root', {
      Root: {
        kind: 'STRICT_SHAPE',
        key: 'Root',
        fields: [
          { name: 'ops', type_key: 'Ops', is_required: true },
          { name: 'resources', type_key: 'Perm', is_required: false },
          { name: 'execution', type_key: 'Sel', is_required: false },
        ],
      },
      Ops: { kind: 'STRICT_SHAPE', key: 'Ops', fields: [{ name: 'hello', type_key: 'OpCfg', is_required: true }] },
      OpCfg: {
        kind: 'STRICT_SHAPE',
        key: 'OpCfg',
        fields: [
          { name: 'config', type_key: 'Map', is_required: false },
          { name: 'tags', type_key: 'Arr', is_required: false },
          { name: 'level', type_key: 'Enum', is_required: false },
          { name: 'limit', type_key: 'NoneInt', is_required: false },
        ],
      },
      Perm: { kind: 'PERMISSIVE_SHAPE', key: 'Perm', fields: [{ name: 'io', type_key: 'String', is_required: false }] },
      Sel: {
        kind: 'SELECTOR',
        key: 'Sel',
        fields: [
          { name: 'in_process', type_key: 'Any', is_required: false },
          { name: 'multiprocess', type_key: 'Perm', is_required: false },
        ],
      },
      Map: { kind: 'MAP', key: 'Map', type_param_keys: ['String', 'Int'] },
      Arr: { kind: 'ARRAY', key: 'Arr', type_param_keys: ['String'] },
      Enum: { kind: 'ENUM', key: 'Enum', enum_values: [{ value: 'LOW' }, { value: 'HIGH' }] },
      NoneInt: { kind: 'NONEABLE', key: 'NoneInt', type_param_keys: ['Int'] },
      Int: { kind: 'SCALAR', key: 'Int', scalar_kind: 'INT' },
      String: { kind: 'SCALAR', key: 'String', scalar_kind: 'STRING' },
      Any: { kind: 'ANY', key: 'Any' },
    }),
    configs: [
      { ops: { hello: {} } },
      {},
      { ops: { hello: { config: { a: 1 }, tags: ['t'], level: 'LOW', limit: null } } },
      { ops: { hello: { config: { a: 'x' }, tags: [1], level: 'MID', limit: 'x' } } },
      { ops: { hello: {}, nope: {} } },
      { ops: { hello: {} }, resources: { io: 'x', anything: 1 } },
      { ops: { hello: {} }, execution: { in_process: {} } },
      { ops: { hello: {} }, execution: {} },
      { ops: { hello: {} }, execution: { in_process: {}, multiprocess: {} } },
    ],
  },
  {
    name: 'hand-written: if/then/else, dependencies, contains, uniqueItems, not, $defs, patternProperties',
    schema: {
      type: 'object',
      properties: {
        kind: { enum: ['file', 'url'] },
        path: { type: 'string' },
        list: { type: 'array', uniqueItems: true, contains: { const: 'main' }, maxContains: 1 },
        code: { not: { type: 'string', maxLength: 2 } },
        ref: { $ref: '#/$defs/port' },
        count: { type: 'number', minimum: 0, exclusiveMaximum: 10 },
        opt: { type: 'string', nullable: true },
      },
      patternProperties: { '^x_': { type: 'boolean' } },
      if: { properties: { kind: { const: 'file' } }, required: ['kind'] },
      then: { required: ['path'] },
      else: { not: { required: ['path'] } },
      dependentRequired: { count: ['kind'] },
      minProperties: 1,
      maxProperties: 4,
      $defs: { port: { type: 'integer', minimum: 1, maximum: 65535 } },
    },
    configs: [
      { kind: 'file', path: '/a' },
      { kind: 'file' },
      { kind: 'url', path: '/a' },
      {},
      { list: ['main', 'x'] },
      { list: ['main', 'main'] },
      { list: ['x'] },
      { code: 'ab' },
      { code: 'abc' },
      { ref: 80 },
      { ref: 0 },
      { count: 10 },
      { count: 3 },
      { x_debug: true },
      { x_debug: 'yes' },
      { y: 1 },
      { kind: 'url', count: 1, ref: 1, x_a: true, x_b: false },
      { opt: null },
      { opt: 1 },
    ],
  },
];

for (const c of CASES) {
  test(`same verdicts and bad fields as ajv: ${c.name}`, () => {
    const strict = strictConfigSchema(c.schema);
    const compiled = compileConfigSchema(strict);
    assert.equal(compiled.kind, 'ok', JSON.stringify(compiled));
    if (compiled.kind !== 'ok') return;
    const reference = ajv.compile(strict);
    let invalid = 0;
    for (const config of c.configs) {
      const problems = compiled.validate(config);
      const ok = reference(config);
      assert.equal(
        problems.length === 0,
        ok,
        `${JSON.stringify(config)}: ${JSON.stringify(problems)} vs ajv ${JSON.stringify(reference.errors)}`,
      );
      if (ok) continue;
      invalid++;
      // Each field ajv blames is named here too (ajv names a missing field's parent; this names the field).
      const named = problems.map((p) => p.instancePath);
      for (const e of reference.errors ?? []) {
        const field =
          e.keyword === 'required' ? `${e.instancePath}/${String(e.params.missingProperty)}` : e.instancePath;
        const blamed =
          e.keyword === 'additionalProperties' ? `${e.instancePath}/${String(e.params.additionalProperty)}` : field;
        if (['anyOf', 'oneOf', 'if', 'not', 'unevaluatedProperties'].includes(e.keyword)) continue;
        assert.ok(
          named.some(
            (n) => n === blamed || n.startsWith(`${blamed}/`) || blamed.startsWith(`${n}/`) || n === e.instancePath,
          ),
          `${JSON.stringify(config)}: ajv blames ${blamed} (${e.message}); here: ${JSON.stringify(problems)}`,
        );
      }
      for (const p of problems) assert.ok(p.message.length > 0 && p.keyword.length > 0);
    }
    assert.ok(invalid > 0, 'the case has bad configs');
  });
}

test('messages name the field and what is wrong with it', () => {
  const compiled = compileConfigSchema(strictConfigSchema(CASES[0]!.schema));
  assert.equal(compiled.kind, 'ok');
  if (compiled.kind !== 'ok') return;
  const lines = compiled
    .validate({ seconds: 'ten', secnods: 1, mode: 'medium', when: 'yesterday' })
    .map((p) => `${p.instancePath} ${p.message}`);
  assert.ok(lines.includes('/seconds must be number'), lines.join('\n'));
  assert.ok(
    lines.some((l) => /^\/secnods is not a known field \(known: seconds, /.test(l)),
    lines.join('\n'),
  );
  assert.ok(lines.includes('/mode must be one of "fast", "slow"'), lines.join('\n'));
  assert.ok(lines.includes('/when must match format "date-time"'), lines.join('\n'));
});

test('a required field is an own field: names Object.prototype carries do not count', () => {
  const compiled = compileConfigSchema({ type: 'object', required: ['toString', 'constructor'] });
  assert.equal(compiled.kind, 'ok');
  if (compiled.kind !== 'ok') return;
  assert.deepEqual(
    compiled.validate({}).map((p) => p.instancePath),
    ['/toString', '/constructor'],
  );
});

test('keywords it does not check are never skipped: unknown ones are named, standard ones go to ajv', () => {
  const unknown = compileConfigSchema({ type: 'object', properties: { n: { type: 'number', minimun: 3 } } });
  assert.deepEqual(unknown, { kind: 'unknown', keywords: ['/properties/n/minimun'] });
  const badRegex = compileConfigSchema({ type: 'string', pattern: '(' });
  assert.deepEqual(badRegex, { kind: 'unknown', keywords: ['/pattern (not a valid regular expression)'] });
  const dynamic = compileConfigSchema({ $defs: { a: { $dynamicAnchor: 'a' } }, $dynamicRef: '#a' });
  assert.equal(dynamic.kind, 'needsAjv');
  const remote = compileConfigSchema({ $ref: 'https://example.com/schema.json' });
  assert.equal(remote.kind, 'needsAjv');
  const annotated = compileConfigSchema({ type: 'object', title: 't', 'x-widget': 'slider', examples: [{}] });
  assert.equal(annotated.kind, 'ok');
});
