// A cold-spawned worker whose tree ends before the launcher looks up its root leaves our child's
// pid as the one to record. By then the launcher has reaped the child, so the pid may already be
// another process's: the record must carry the child's start time and group as read at spawn, or
// a restarted launcher takes the stranger for the run (alive; its group signalled on terminate),
// and its priority is not the launcher's to lower.
// Pid reuse is forced in a pid namespace of the test's own (support/launch-into-reused-pid.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const dataDir = mkdtempSync(join(tmpdir(), 'outpost-pid-reuse-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const probe = spawnSync('unshare', ['-Urpf', '--mount-proc', 'sh', '-c', 'echo 100 > /proc/sys/kernel/ns_last_pid'], {
  encoding: 'utf8',
});
const skip =
  probe.status === 0 ? false : `no pid namespace of our own here (unshare -Urpf): ${probe.stderr || probe.error}`;

test(
  'a worker reaped before its root is seen is recorded as itself, not as the next owner of its pid',
  { skip },
  () => {
    const r = spawnSync(
      'unshare',
      [
        '-Urpf',
        '--mount-proc',
        process.execPath,
        ...process.execArgv,
        'test/process/agent/support/launch-into-reused-pid.ts',
        dataDir,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      record: { pid: number; startTime: number; pgid: number };
      squatter?: { pid: number; startTime: number; pgrp: number };
      aliveAfterRestart: boolean;
      squatterNice: number;
    };
    assert.ok(out.squatter, `the worker's pid was never handed to another process: ${r.stdout}`);
    assert.equal(out.record.pid, out.squatter.pid, 'the recorded pid is the reused one');
    assert.notEqual(out.record.startTime, out.squatter.startTime, "the record holds the other process's start time");
    assert.ok(out.record.startTime > 0, `start time ${out.record.startTime}`);
    assert.equal(out.aliveAfterRestart, false, 'a restarted launcher takes the other process for the finished run');
    assert.equal(out.squatterNice, 0, "the other process's priority was lowered as the worker's");
  },
);
