// The execution plan is pure: order, levels, subsets and errors for a few graph shapes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isOutpostError } from '../../../src/shared/errors.js';
import { job, op } from 'outpost/sdk';
import { executionPlan } from '../../../src/user-code/common/execution-plan.js';

const a = op({ name: 'a' }, () => 1);
const b = op({ name: 'b', ins: { x: a } }, (_c, { x }) => x);
const c = op({ name: 'c', ins: { x: a } }, (_c, { x }) => x);
const d = op({ name: 'd', ins: { l: b, r: c } }, (_c, { l, r }) => l + r);
const lone = op({ name: 'lone' }, () => 0);
const diamond = job({ name: 'diamond', ops: [d, c, b, a, lone] });

describe('executionPlan', () => {
  test('orders by dependency whatever the declaration order, with levels', () => {
    assert.deepEqual(executionPlan(diamond), [
      { key: 'a', dependsOn: [], level: 0 },
      { key: 'lone', dependsOn: [], level: 0 },
      { key: 'c', dependsOn: ['a'], level: 1 },
      { key: 'b', dependsOn: ['a'], level: 1 },
      { key: 'd', dependsOn: ['b', 'c'], level: 2 },
    ]);
  });

  test('a subset keeps only dependencies inside it', () => {
    assert.deepEqual(executionPlan(diamond, ['d', 'b']), [
      { key: 'b', dependsOn: [], level: 0 },
      { key: 'd', dependsOn: ['b'], level: 1 },
    ]);
    assert.deepEqual(executionPlan(diamond, ['lone']), [{ key: 'lone', dependsOn: [], level: 0 }]);
  });

  test('unknown ops in a subset are an INVALID_ARGUMENT naming them and the real ops', () => {
    assert.throws(
      () => executionPlan(diamond, ['a', 'zz', 'yy']),
      (err: unknown) =>
        isOutpostError(err, 'INVALID_ARGUMENT') && /"zz", "yy".*ops: d, c, b, a, lone/.test(err.message),
    );
  });

  test('the same input op wired twice yields one dependency', () => {
    const twice = op({ name: 'twice', ins: { p: a, q: a } }, (_c, { p, q }) => p + q);
    assert.deepEqual(executionPlan(job({ name: 'j', ops: [a, twice] }))[1], {
      key: 'twice',
      dependsOn: ['a'],
      level: 1,
    });
  });
});
