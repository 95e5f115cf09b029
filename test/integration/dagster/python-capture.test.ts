// Runs the capture package's pytest suite (python/tests) with the Dagster venv's interpreter, so
// `npm test` covers the Python side too: real `dagster job execute` runs writing Outpost's spool.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';

const python = process.env.OUTPOST_TEST_DAGSTER_PYTHON;
const hasPytest = python ? spawnSync(python, ['-c', 'import pytest'], { stdio: 'ignore' }).status === 0 : false;
const skip = !python
  ? (process.env.OUTPOST_TEST_DAGSTER_SKIP_REASON ??
    'OUTPOST_TEST_DAGSTER_PYTHON is not set: run through scripts/run-tests.ts')
  : !hasPytest && process.env.CI !== 'true'
    ? `${python} has no pytest (the venv from scripts/dagster-venv.ts installs it)`
    : false;
if (skip) console.log(`# skipping the Python capture tests: ${skip}`);

test('python/tests pass against the Dagster venv', { skip }, async () => {
  const out: string[] = [];
  const code = await new Promise<number | null>((done) => {
    // -p no:cacheprovider: no .pytest_cache written into the repo.
    const child = spawn(python!, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider'], {
      cwd: resolve('python'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (b: Buffer) => out.push(b.toString()));
    child.stderr.on('data', (b: Buffer) => out.push(b.toString()));
    child.on('exit', done);
  });
  const text = out.join('');
  const summary = text.trim().split('\n').pop() ?? '';
  console.log(`# pytest: ${summary}`);
  assert.equal(code, 0, text.slice(-4000));
  assert.match(summary, /\d+ passed/);
});
