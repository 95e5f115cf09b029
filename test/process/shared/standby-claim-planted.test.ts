// A warm standby imports user code before any run reaches it, and the run's spool is writable
// from inside the sandbox, so files the agent creates or reads there can be planted. Before the
// fix the agent's claim (when it gives up on a standby that never answers) wrote its aside file
// through a symlink planted at that name (here: a stand-in for a file of the agent's, which
// became "agent"), and a FIFO planted at `standby-claim` was read as the claim (a FIFO with no
// writer would block the agent's event loop for good). Real files, a real FIFO (mkfifo).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { STANDBY_CLAIM_FILE, claimHandoff, handoffClaimant } from '../../../src/shared/standby-protocol.js';

const root = mkdtempSync(join(tmpdir(), 'outpost-claim-'));
after(() => rmSync(root, { recursive: true, force: true }));

test("a symlink planted at the agent's aside name is not written through", () => {
  const spool = join(root, 'planted-link');
  mkdirSync(spool);
  const target = join(root, 'agent.token');
  writeFileSync(target, 'SECRET');
  symlinkSync(target, join(spool, `${STANDBY_CLAIM_FILE}.agent.${process.pid}.tmp`));
  assert.equal(claimHandoff(spool, 'agent'), 'claimed');
  assert.equal(readFileSync(target, 'utf8'), 'SECRET', "the link's target is untouched");
  assert.equal(handoffClaimant(spool), 'agent');
});

test('a FIFO planted at the claim is no claim, and reading it does not wait for a writer', async () => {
  const spool = join(root, 'planted-fifo');
  mkdirSync(spool);
  const fifo = join(spool, STANDBY_CLAIM_FILE);
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  // A writer that says "standby" once a reader opens the FIFO (before the fix that read was the claim).
  const writer = spawn('sh', ['-c', `printf standby > '${fifo}'`], { stdio: 'ignore' });
  const exited = new Promise((resolve) => writer.once('exit', resolve));
  try {
    assert.equal(handoffClaimant(spool), undefined);
    assert.equal(claimHandoff(spool, 'agent'), 'taken', 'the name is taken all the same: nobody claims the run');
  } finally {
    writer.kill('SIGKILL');
    await exited;
  }
});
