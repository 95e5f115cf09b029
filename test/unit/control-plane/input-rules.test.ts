import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkJsonDepth, jsonDepth } from '../../../src/control-plane/core/input-rules.js';

test('jsonDepth counts objects and arrays, scalars are depth 0', () => {
  assert.equal(jsonDepth(1), 0);
  assert.equal(jsonDepth(null), 0);
  assert.equal(jsonDepth({}), 1);
  assert.equal(jsonDepth({ a: [1, { b: 2 }] }), 3);
  assert.equal(jsonDepth([[], [[[]]]]), 4);
});

test('jsonDepth walks 200,000 levels without recursion, and stops early past a bound', () => {
  let deep: unknown = 0;
  for (let i = 0; i < 200_000; i++) deep = [deep];
  assert.equal(jsonDepth(deep), 200_000);
  assert.equal(jsonDepth(deep, 10), 11);
  assert.throws(
    () => checkJsonDepth('runConfig', deep),
    /runConfig nests deeper than 64; the limit maxJsonDepth is 64/,
  );
});
