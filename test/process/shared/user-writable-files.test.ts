// regularFileSize: the one look (lstat, no open) the agent takes at a file in a directory user
// code can write: a regular file's size, 'other' for whatever else was put there, never followed.
// A process test: its FIFO is made by mkfifo.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { regularFileSize } from '../../../src/shared/user-writable-files.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-writable-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a regular file's size; a symlink (to a regular file), a FIFO or a directory is 'other'; nothing is undefined", () => {
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, 'x'.repeat(42));
  assert.equal(regularFileSize(file), 42);
  symlinkSync(file, join(dir, 'link'));
  assert.equal(regularFileSize(join(dir, 'link')), 'other');
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  assert.equal(regularFileSize(join(dir, 'fifo')), 'other');
  mkdirSync(join(dir, 'sub'));
  assert.equal(regularFileSize(join(dir, 'sub')), 'other');
  assert.equal(regularFileSize(join(dir, 'missing')), undefined);
});
