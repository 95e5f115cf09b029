import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERRORS, OutpostError, errorCode, formatError } from '../../src/shared/errors.js';

test('every registered error has a stable code, a status and a hint', () => {
  for (const [name, spec] of Object.entries(ERRORS)) {
    assert.match(errorCode(name as keyof typeof ERRORS), /^OUTPOST_ERR_[A-Z_]+$/);
    assert.ok(spec.http >= 400 && spec.http < 600, name);
    assert.ok(spec.hint.length > 10, `${name} needs a hint`);
  }
});

test('an OutpostError carries code, detail and hint, and formats for terminals', () => {
  const e = new OutpostError('UNKNOWN_JOB', { detail: 'job "nope" in location "hello"' });
  assert.equal(e.code, 'OUTPOST_ERR_UNKNOWN_JOB');
  assert.equal(e.http, 404);
  assert.match(e.message, /nope/);
  assert.match(formatError(e), /^OUTPOST_ERR_UNKNOWN_JOB: .*\n {2}→ /);
  assert.deepEqual(Object.keys(e.toJSON()).sort(), ['code', 'hint', 'http', 'message']);
});
