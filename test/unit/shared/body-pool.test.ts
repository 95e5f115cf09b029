// The body pool (src/shared/body-pool.ts): a buffer given back is handed out again,
// one still out never is (nor one given back twice), small bodies and what exceeds the pool's
// bound are not kept, and an idle pool drops what it keeps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BODY_POOL_MIN_BYTES, BodyPool } from '../../../src/shared/body-pool.js';
import { until } from '../../support/wait.js';

const SIZE = BODY_POOL_MIN_BYTES * 2;

test('a buffer given back is handed out again; one still out is not', () => {
  const pool = new BodyPool(4 * SIZE);
  const a = pool.take(SIZE);
  const b = pool.take(SIZE);
  assert.notEqual(a.buffer, b.buffer, 'two buffers out at once share no memory');
  assert.equal(a.length, SIZE);
  pool.give(a);
  const c = pool.take(SIZE);
  assert.equal(c.buffer, a.buffer, 'the given-back buffer is reused');
  assert.notEqual(c.buffer, b.buffer);
  assert.deepEqual(pool.stats(), { reused: 1, allocated: 2, keptBytes: 0 });
});

test('a smaller body gets a view of exactly its size; a second give of one view is ignored', () => {
  const pool = new BodyPool(4 * SIZE);
  const a = pool.take(SIZE);
  pool.give(a);
  const small = pool.take(SIZE - 10);
  assert.equal(small.length, SIZE - 10);
  assert.equal(small.buffer, a.buffer);
  pool.give(small);
  pool.give(small);
  assert.equal(pool.stats().keptBytes, SIZE, 'kept once, not twice');
  const x = pool.take(SIZE);
  const y = pool.take(SIZE);
  assert.notEqual(x.buffer, y.buffer, 'a doubly given view is not handed to two holders');
});

test('small bodies and foreign buffers are not kept; the pool keeps at most its bound', () => {
  const pool = new BodyPool(2 * SIZE);
  const small = pool.take(BODY_POOL_MIN_BYTES - 1);
  pool.give(small);
  pool.give(Buffer.alloc(SIZE));
  assert.equal(pool.stats().keptBytes, 0);
  const out = [pool.take(SIZE), pool.take(SIZE), pool.take(SIZE)];
  for (const b of out) pool.give(b);
  assert.equal(pool.stats().keptBytes, 2 * SIZE);
});

test('an idle pool drops what it keeps', async () => {
  const pool = new BodyPool(4 * SIZE, 20);
  pool.give(pool.take(SIZE));
  assert.equal(pool.stats().keptBytes, SIZE);
  await until('the idle pool to drop its buffer', () => pool.stats().keptBytes === 0, 5_000, 10);
  pool.take(SIZE);
  assert.equal(pool.stats().reused, 0);
});
