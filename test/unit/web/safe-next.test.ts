// `next` after sign-in: same-site paths survive; everything a browser could turn into another
// site (tabs and newlines it strips, `\` it reads as `/`, `//`, schemes) becomes /runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_NEXT, safeNext } from '../../../src/control-plane/web/safe-next.js';

test('same-site paths are kept', () => {
  for (const p of ['/runs', '/runs?status=FAILURE', '/locations/hello/jobs/hello', '/graphql', '/a/%2F%2Fb']) {
    assert.equal(safeNext(p), p);
  }
  assert.equal(safeNext('/runs/../agents'), '/agents', 'dot segments are resolved');
});

test('anything that could leave the site becomes the default', () => {
  const bad = [
    '/\t/evil.example',
    '/\n/x',
    '/\r\n/x',
    '/\\evil.example',
    '\\\\evil.example',
    '//evil.example',
    '///evil.example',
    'https://evil.example',
    'javascript:alert(1)',
    'evil.example',
    '/\u0000x',
    '/x\u007f',
    '/./\t/evil',
    '',
    '/'.padEnd(3000, 'a'),
  ];
  for (const b of bad) assert.equal(safeNext(b), DEFAULT_NEXT, JSON.stringify(b));
  for (const v of [undefined, null, 42, ['/runs'], {}]) assert.equal(safeNext(v), DEFAULT_NEXT);
});
