// Run config is strict by default: keys a schema does not list are refused unless it allows them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { strictConfigSchema } from '../../../src/control-plane/core/strict-config.js';

const ajv = new Ajv2020({ strict: false });
const accepts = (schema: Record<string, unknown>, value: unknown): boolean =>
  ajv.compile(strictConfigSchema(schema))(value);

test('unknown keys are refused at every level of an object schema', () => {
  const schema = {
    type: 'object',
    properties: { seconds: { type: 'number' }, nested: { type: 'object', properties: { a: { type: 'string' } } } },
  };
  assert.equal(accepts(schema, { seconds: 1, nested: { a: 'x' } }), true);
  assert.equal(accepts(schema, { seconds: 1, secnods: 2 }), false);
  assert.equal(accepts(schema, { nested: { a: 'x', b: 1 } }), false);
});

test('a job without config takes only {}', () => {
  assert.equal(accepts({}, {}), true);
  assert.equal(accepts({}, { anything: 1 }), false);
  assert.equal(accepts({ $schema: 'https://json-schema.org/draft/2020-12/schema' }, { x: 1 }), false);
});

test('a schema that allows extra keys keeps allowing them', () => {
  assert.equal(accepts({ type: 'object', properties: {}, additionalProperties: true }, { x: 1 }), true);
  assert.equal(accepts({ type: 'object', additionalProperties: { type: 'number' } }, { x: 1 }), true);
  assert.equal(accepts({ type: 'object', patternProperties: { '^x_': {} } }, { x_1: 1 }), true);
});

test('allOf members are not closed one by one; the whole is closed', () => {
  const schema = {
    type: 'object',
    allOf: [
      { type: 'object', properties: { a: { type: 'number' } } },
      { type: 'object', properties: { b: { type: 'number' } } },
    ],
  };
  assert.equal(accepts(schema, { a: 1, b: 2 }), true);
  assert.equal(accepts(schema, { a: 1, b: 2, c: 3 }), false);
});

test('each alternative of anyOf/oneOf is strict, and $defs are reached', () => {
  const schema = {
    anyOf: [{ type: 'object', properties: { a: { type: 'number' } } }, { $ref: '#/$defs/b' }],
    $defs: { b: { type: 'object', properties: { b: { type: 'number' } } } },
  };
  assert.equal(accepts(schema, { a: 1 }), true);
  assert.equal(accepts(schema, { b: 1 }), true);
  assert.equal(accepts(schema, { a: 1, z: 1 }), false);
  assert.equal(accepts(schema, { b: 1, z: 1 }), false);
});

test('the input schema is not modified', () => {
  const schema = { type: 'object', properties: { a: { type: 'object' } } };
  const copy = structuredClone(schema);
  strictConfigSchema(schema);
  assert.deepEqual(schema, copy);
});
