// `npm run test:unit` stays in-process: no file under test/unit/ may import child_process or a
// harness that starts processes. Such tests belong in test/process/ or above (test/README.md).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const UNIT = join(import.meta.dirname, '..');
// child_process itself, the harnesses that spawn, and the product's own spawners (launcher,
// standby pool, the CLI supervisor).
const SPAWNING = new RegExp(
  [
    "from '(node:)?child_process'",
    "/support/(process|stack|dev-stack|outpost-processes|code-server-process|run-worker-process)\\.js'",
    '\\bnew (ProcessLauncher|StandbyPool)\\(',
    '\\bspawnPrefixed\\(',
  ].join('|'),
);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.(ts|mjs)$/.test(name) ? [path] : [];
  });
}

test('no unit test imports child_process or a process-starting harness', () => {
  const offenders = files(UNIT)
    .filter((f) => SPAWNING.test(readFileSync(f, 'utf8')))
    .map((f) => relative(UNIT, f));
  assert.deepEqual(offenders, [], 'move these to test/process/ (or test/integration/)');
});
