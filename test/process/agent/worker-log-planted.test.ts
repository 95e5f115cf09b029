// A spool the agent spawns a worker into again (a warm standby that did not take its run leaves
// its spool, with whatever its user code put there) may hold a symlink or a FIFO at stdout.log /
// stderr.log. Before the fix the agent opened them following the link: the run's output was
// appended to the link's target (here a stand-in for a file of the agent's); a FIFO with no
// reader blocked the agent in the open (not tested here: before the fix it hangs the test, so
// the FIFO is given a reader). A real child process, a real FIFO (mkfifo), no isolation.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { spawnDetached } from '../../../src/agent/launchers/detached-spawn.js';
import { noIsolation } from '../../../src/agent/launchers/sandbox.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-worker-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a symlink or FIFO planted at a worker log is replaced by a fresh log, its target untouched', async () => {
  const target = join(dir, 'agent.token');
  writeFileSync(target, 'SECRET');
  symlinkSync(target, join(dir, 'stdout.log'));
  assert.equal(spawnSync('mkfifo', [join(dir, 'stderr.log')]).status, 0, 'mkfifo');
  const reader = spawn('cat', [join(dir, 'stderr.log')], { stdio: ['ignore', 'pipe', 'ignore'] });
  let read = '';
  reader.stdout.on('data', (c: Buffer) => (read += c.toString()));
  const readerDone = new Promise((resolve) => reader.once('exit', resolve));
  const child = spawnDetached({
    cmd: ['sh', '-c', 'echo out; echo err >&2'],
    isolation: noIsolation,
    place: { cwd: dir },
    logDir: dir,
    baseEnv: { PATH: process.env.PATH },
    extraEnv: {},
    secrets: [],
  });
  await new Promise((resolve) => child.once('exit', resolve));
  reader.kill('SIGKILL');
  await readerDone;
  assert.equal(read, '', "nothing went into the planted FIFO's reader");
  assert.equal(readFileSync(target, 'utf8'), 'SECRET', "the link's target is untouched");
  for (const [name, text] of [
    ['stdout.log', 'out\n'],
    ['stderr.log', 'err\n'],
  ] as const) {
    assert.ok(lstatSync(join(dir, name)).isFile(), `${name} is a regular file`);
    assert.equal(readFileSync(join(dir, name), 'utf8'), text);
  }
});
