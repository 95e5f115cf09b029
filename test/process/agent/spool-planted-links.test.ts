// A run's spool is writable by its user code (bound into the sandbox read-write), while the
// agent reads and writes it from outside the sandbox, where every path resolves. User code may
// replace a spool file with a symlink to a file only the agent can reach (its token file, the
// admin's user.token, the database under `npm start`'s .outpost/) or with a FIFO. Before: the
// agent shipped the symlink's target as the run's stdout (readable by every VIEWER), and a
// termination overwrote the target with its marker. Real files, a real ProcessLauncher.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { readRange } from '../../../src/agent/spool-lines.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-spool.js';

const SECRET = 'opa_' + 'S'.repeat(43);
let dir: string;
let secretFile: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-planted-'));
  secretFile = join(dir, 'agent.token');
  writeFileSync(secretFile, SECRET, { mode: 0o600 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a spool file replaced by a symlink or a FIFO reads as nothing', () => {
  const spool = join(dir, 'read-spool');
  mkdirSync(spool);
  const stdout = join(spool, SPOOL_FILES.stdout);
  symlinkSync(secretFile, stdout);
  const read = readRange(stdout, 0, 1 << 20);
  assert.equal(read?.toString().includes(SECRET), false, 'the token was read through the symlink');
  assert.equal(read?.length, 0);
  const stderr = join(spool, SPOOL_FILES.stderr);
  execFileSync('mkfifo', [stderr]);
  assert.equal(readRange(stderr, 0, 1 << 20)?.length, 0, 'a FIFO is not waited on');
  // A regular file still reads as before.
  writeFileSync(join(spool, SPOOL_FILES.events), 'hello');
  assert.equal(readRange(join(spool, SPOOL_FILES.events), 1, 3)?.toString(), 'ell');
});

test("a termination never writes through a symlink planted at the marker's name", async () => {
  const launcher = new ProcessLauncher({
    dataDir: join(dir, 'agent'),
    logger: createLogger({ name: 't', level: 'silent' }),
  });
  const runId = 'run_planted';
  const spool = launcher.spoolDir(runId);
  mkdirSync(spool, { recursive: true });
  symlinkSync(secretFile, join(spool, SPOOL_FILES.terminated));
  assert.equal(await launcher.requestTermination(runId), false, 'no worker to signal');
  assert.equal(readFileSync(secretFile, 'utf8'), SECRET, 'the symlink target was overwritten');
});
