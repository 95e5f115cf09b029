// docs/errors.md is generated from the error registry: it must match what `npm run gen:errors`
// writes now, so a code added to src/shared/errors.ts without regenerating fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERRORS, errorCode, type ErrorName } from '../../../src/shared/errors.js';
import { ERRORS_DOC, renderErrorsDoc } from '../../../scripts/gen-errors-doc.js';

test('docs/errors.md is up to date with src/shared/errors.ts (fix: npm run gen:errors)', () => {
  assert.equal(
    readFileSync(ERRORS_DOC, 'utf8'),
    renderErrorsDoc(),
    'run `npm run gen:errors` and commit docs/errors.md',
  );
});

test('every registered code appears once, with its HTTP status and hint', () => {
  const doc = renderErrorsDoc();
  for (const [name, e] of Object.entries(ERRORS)) {
    const rows = doc.split('\n').filter((l) => l.startsWith(`| \`${errorCode(name as ErrorName)}\` |`));
    assert.equal(rows.length, 1, name);
    assert.ok(rows[0]!.includes(`| ${e.http} |`) && rows[0]!.includes(e.hint.replace(/\|/g, '\\|')), rows[0]);
  }
});

test('a registry change changes the reference (the drift check can fail)', () => {
  const added = { ...ERRORS, NEW_THING: { http: 418, message: 'A new failure', hint: 'Do the new thing.' } };
  const doc = renderErrorsDoc(added);
  assert.notEqual(doc, renderErrorsDoc());
  assert.match(doc, /\| `OUTPOST_ERR_NEW_THING` \| 418 \| A new failure \| Do the new thing\. \|/);
});
