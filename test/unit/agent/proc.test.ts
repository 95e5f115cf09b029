// /proc helpers against real processes: autogroup priority of a detached child (its own
// session, so its own autogroup) and refusal to touch a group the caller shares.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { lowerAutogroupPriority, readAutogroup, readProcStat } from '../../../src/agent/launchers/proc.js';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function sleeper(detached: boolean): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { detached, stdio: 'ignore' });
  children.push(child);
  return child;
}

const own = readAutogroup('self');
const skip = own ? false : 'this kernel has no /proc/<pid>/autogroup (CONFIG_SCHED_AUTOGROUP off)';
if (skip) console.log(`skipped autogroup tests: ${skip}`);

describe('autogroup priority', { skip }, () => {
  test('a detached child is its own autogroup and gets our nice + by (capped at 19)', () => {
    const child = sleeper(true);
    const before = readAutogroup(child.pid!);
    assert.ok(before, 'child autogroup readable');
    assert.notEqual(before.id, own!.id, 'setsid gives the child an autogroup of its own');
    assert.equal(lowerAutogroupPriority(child.pid!, 7), true);
    assert.equal(readAutogroup(child.pid!)?.nice, Math.min(19, own!.nice + 7));
    assert.equal(lowerAutogroupPriority(child.pid!, 50), true);
    assert.equal(readAutogroup(child.pid!)?.nice, 19);
    assert.equal(readAutogroup('self')?.nice, own!.nice, 'our own group is untouched');
  });

  test('never lowers a group the caller shares, nor a vanished process', async () => {
    const child = sleeper(false);
    assert.equal(readAutogroup(child.pid!)?.id, own!.id);
    assert.equal(lowerAutogroupPriority(child.pid!, 5), false);
    assert.equal(readAutogroup('self')?.nice, own!.nice);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    assert.equal(readProcStat(child.pid!), undefined);
    assert.equal(lowerAutogroupPriority(child.pid!, 5), false);
  });

  test('by <= 0 changes nothing', () => {
    const child = sleeper(true);
    const before = readAutogroup(child.pid!)!;
    assert.equal(lowerAutogroupPriority(child.pid!, 0), false);
    assert.equal(readAutogroup(child.pid!)?.nice, before.nice);
  });
});
