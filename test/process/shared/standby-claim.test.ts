// The handoff claim (src/shared/standby-protocol.ts) decides who runs a handed-over run when a
// deadline expires: exactly one claimer wins, whichever comes second learns it lost, and the
// file names the winner from the moment it exists. Real files, and a real second process
// racing this one.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { claimHandoff, handoffClaimant, STANDBY_CLAIM_FILE } from '../../../src/shared/standby-protocol.js';

const root = mkdtempSync(join(tmpdir(), 'outpost-claim-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('the first claim wins, the second is told, and the file names the winner', () => {
  const spool = join(root, 'a');
  mkdirSync(spool);
  assert.equal(handoffClaimant(spool), undefined);
  assert.equal(claimHandoff(spool, 'standby'), 'claimed');
  assert.equal(claimHandoff(spool, 'agent'), 'taken');
  assert.equal(handoffClaimant(spool), 'standby');
  assert.deepEqual(readdirSync(spool), [STANDBY_CLAIM_FILE], 'nothing left aside');
  assert.equal(claimHandoff(join(root, 'never-moved'), 'agent'), 'absent');
});

test('two processes racing for the same run: exactly one wins, every time', async () => {
  // The child signals when it is loaded and starts claiming when told, as this process does.
  const script = `import { claimHandoff } from ${JSON.stringify(new URL('../../../src/shared/standby-protocol.ts', import.meta.url).href)};
    const dirs = process.argv.slice(1);
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => {
      process.stdout.write(JSON.stringify(dirs.map((d) => claimHandoff(d, 'standby'))));
      process.exit(0);
    });`;
  const dirs = Array.from({ length: 500 }, (_, i) => join(root, `race-${i}`));
  for (const d of dirs) mkdirSync(d);
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...dirs], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  await new Promise<void>((r) => child.stdout.on('data', () => out.startsWith('ready\n') && r()));
  const exited = new Promise((r) => child.once('exit', r));
  child.stdin.write('go\n');
  // From the far end, so both usually meet somewhere in the middle (not asserted: a starved
  // CPU may let one side take them all, which must be just as exclusive).
  const mine = [...dirs]
    .reverse()
    .map((d) => claimHandoff(d, 'agent'))
    .reverse();
  await exited;
  const theirs = JSON.parse(out.slice('ready\n'.length)) as string[];
  dirs.forEach((d, i) => {
    assert.notEqual(mine[i], theirs[i], `${d}: one claimed, the other was told it was taken`);
    assert.equal(handoffClaimant(d), mine[i] === 'claimed' ? 'agent' : 'standby');
  });
});
