// The one zod-issue format (src/shared/zod-issues.ts), for zod v3 and zod/v4 errors alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { z as z4 } from 'zod/v4';
import { formatZodIssues, zodIssueLines } from '../../../src/shared/zod-issues.js';

test('issues read path: message, joined by "; ", the value itself as (root)', () => {
  const v3 = z.object({ a: z.object({ b: z.number() }), c: z.string() }).safeParse({ a: { b: 'x' } });
  assert.equal(v3.success, false);
  if (v3.success) return;
  assert.equal(formatZodIssues(v3.error), 'a.b: Expected number, received string; c: Required');
  const root = z.object({}).safeParse(7);
  assert.equal(!root.success && formatZodIssues(root.error), '(root): Expected object, received number');
});

test('zod/v4 errors (the SDK) format the same way', () => {
  const r = z4.object({ n: z4.number().int() }).safeParse({ n: 1.5 });
  assert.equal(r.success, false);
  if (r.success) return;
  assert.deepEqual(zodIssueLines(r.error), [`n: ${r.error.issues[0]!.message}`]);
  assert.match(zodIssueLines(r.error)[0]!, /^n: .*int/i);
});
