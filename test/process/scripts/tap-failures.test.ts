import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { failureSummary, tapFailures } from '../../../scripts/tap-failures.js';

describe('tapFailures', () => {
  test('names each failed test by its path with its error, and leaves out suites that failed only through it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tap-failures-'));
    try {
      // A real node:test run, so the parser follows what this Node prints.
      writeFileSync(
        join(dir, 'a.test.mjs'),
        [
          "import test, { describe } from 'node:test';",
          "import assert from 'node:assert';",
          "describe('outer', () => {",
          "  describe('inner', () => {",
          "    test('passes', () => {});",
          "    test('breaks', () => { assert.equal(1, 2, 'one is not two'); });",
          '  });',
          "  test('also passes', () => {});",
          '});',
          "test('top level throws', () => { throw new Error('boom'); });",
        ].join('\n'),
      );
      const report = join(dir, 'out.tap');
      // Without NODE_TEST_CONTEXT, which would make the inner run report to this one instead.
      const { NODE_TEST_CONTEXT: _, ...env } = process.env;
      spawnSync(
        process.execPath,
        ['--test', '--test-reporter=tap', `--test-reporter-destination=${report}`, 'a.test.mjs'],
        { cwd: dir, env },
      );
      const failures = tapFailures(readFileSync(report, 'utf8'));
      assert.deepEqual(
        failures.map((f) => f.name),
        ['outer > inner > breaks', 'top level throws'],
      );
      assert.ok(failures[0]?.details.some((d) => d.includes('one is not two')));
      assert.ok(failures[0]?.details.some((d) => d.startsWith('location:') && d.includes('a.test.mjs:6')));
      assert.ok(failures[1]?.details.some((d) => d.includes('boom')));
      const summary = failureSummary(failures, report);
      assert.match(summary, /^run-tests: 2 failed/);
      assert.match(summary, /not ok - outer > inner > breaks\n {4}duration_ms/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a green report has nothing to say; long diagnostics are cut with a count', () => {
    assert.equal(
      failureSummary(tapFailures('TAP version 13\nok 1 - fine\n  ---\n  duration_ms: 1\n  ...\n1..1\n'), 'r.tap'),
      '',
    );
    const block = Array.from({ length: 60 }, (_, i) => `  line${i}: x`);
    const [f] = tapFailures(['not ok 1 - long', '  ---', ...block, '  ...'].join('\n'));
    assert.equal(f?.details.length, 41);
    assert.match(f?.details[40] ?? '', /^… 20 more lines/);
  });
});
