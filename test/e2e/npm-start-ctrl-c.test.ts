// `npm start` as a developer runs it, then Ctrl-C: a terminal sends SIGINT to the whole
// foreground group (npm, and whatever npm started). `outpost dev` must get to stop its parts
// however slow it is to answer. `npm start` once ran the tsx CLI, whose parent process relays
// SIGINT and SIGKILLs its child unless the child confirms the signal within 30 ms: on a busy
// machine `outpost dev` was killed mid-shutdown and left the control plane, agent, Temporal and
// run workers running. Here `outpost dev` is paused (SIGSTOP) across the Ctrl-C to stand for
// that busy machine, deterministically.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { devPlace } from '../support/dev-stack.js';
import { alive, processesOfDir, startTimeOf } from '../support/process.js';
import { sleep } from '../support/wait.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

const ppidOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

test(
  'Ctrl-C of `npm start` stops everything even when outpost dev is slow to answer',
  { timeout: 300_000 },
  async () => {
    const { dataDir, args } = await devPlace('outpost-npm-start-');
    const npm = spawn(
      'npm',
      [
        'start',
        '--silent',
        // Not the prestart dependency check: node_modules may be shared, and this is not about it.
        '--ignore-scripts',
        '--',
        ...args,
        '--no-location',
      ],
      { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    const exited = new Promise<void>((r) => npm.once('exit', () => r()));
    const ready = new Promise<void>((r, fail) => {
      for (const s of [npm.stdout, npm.stderr]) {
        createInterface({ input: s }).on('line', (line) => {
          output.push(line);
          if (line.includes('press Ctrl-C to stop')) r();
        });
      }
      void exited.then(() => fail(new Error(`npm start exited before ready:\n${output.slice(-30).join('\n')}`)));
    });
    try {
      await ready;
      // outpost dev is the parent of the control plane (its command line names the data dir).
      const cp = processesOfDir(dataDir).find((p) => p.cmd.includes(' control-plane '));
      assert.ok(cp, `no control plane of ${dataDir}`);
      const dev = ppidOf(cp.pid);
      assert.notEqual(dev, 1);
      process.kill(dev, 'SIGSTOP');
      process.kill(-npm.pid!, 'SIGINT'); // as a terminal's Ctrl-C: the whole foreground group
      await sleep(1_000);
      if (alive(dev)) process.kill(dev, 'SIGCONT');
      await exited;
      let left = processesOfDir(dataDir);
      for (let i = 0; i < 100 && (left.length || alive(dev)); i++) {
        await sleep(200);
        left = processesOfDir(dataDir);
      }
      assert.deepEqual(left, [], `processes of the data dir left:\n${output.slice(-20).join('\n')}`);
      assert.ok(
        output.some((l) => l.includes('[outpost] stopped')),
        output.slice(-20).join('\n'),
      );
    } finally {
      // Never leave a stack behind on a shared machine: only processes of this test's data dir,
      // each still the one found (pid and start time).
      const strays = processesOfDir(dataDir).map((p) => [p.pid, startTimeOf(p.pid)] as const);
      for (const [pid, start] of strays) {
        if (start !== undefined && startTimeOf(pid) === start) process.kill(pid, 'SIGKILL');
      }
      if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
