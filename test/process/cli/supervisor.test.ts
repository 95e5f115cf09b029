// `outpost dev`'s restart policy (pure) and the restart loop of one component against real child
// processes: a crash is reported and restarted with a growing delay, repeated crashes give up
// once, and stop() cancels a pending restart and leaves no process behind.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_RESTART_POLICY,
  formatDelay,
  planRestart,
  type RestartPolicy,
} from '../../../src/cli/restart-policy.js';
import { Component, spawnPrefixed, type SpawnedChild } from '../../../src/cli/supervisor.js';
import { alive } from '../../support/process.js';
import { sleep, until } from '../../support/wait.js';

describe('planRestart', () => {
  const p = DEFAULT_RESTART_POLICY;
  test('first crash: restart in 1 s as attempt 2/5; the delay doubles per crash in the window', () => {
    assert.deepEqual(planRestart([0], 0, p), { action: 'restart', delayMs: 1_000, attempt: 2, maxAttempts: 5 });
    assert.deepEqual(planRestart([0, 10, 20], 20, p), {
      action: 'restart',
      delayMs: 4_000,
      attempt: 4,
      maxAttempts: 5,
    });
  });
  test('the fifth crash within the window gives up', () => {
    assert.deepEqual(planRestart([0, 1, 2, 3, 4], 4, p), { action: 'give-up', crashes: 5, windowMs: p.windowMs });
  });
  test('crashes older than the window do not count', () => {
    const now = 10 * p.windowMs;
    assert.deepEqual(planRestart([0, 1, 2, 3, now], now, p), {
      action: 'restart',
      delayMs: 1_000,
      attempt: 2,
      maxAttempts: 5,
    });
  });
  test('the delay is capped', () => {
    const wide: RestartPolicy = { ...p, maxAttempts: 100 };
    const crashes = Array.from({ length: 20 }, (_, i) => i);
    const plan = planRestart(crashes, 20, wide);
    assert.equal(plan.action === 'restart' && plan.delayMs, p.maxDelayMs);
  });
  test('formatDelay', () => {
    assert.equal(formatDelay(1_000), '1s');
    assert.equal(formatDelay(2_500), '2.5s');
    assert.equal(formatDelay(5 * 60_000), '5m');
  });
});

describe('Component (real child processes)', () => {
  const fast: RestartPolicy = { initialDelayMs: 50, maxDelayMs: 1_000, maxAttempts: 3, windowMs: 60_000 };
  const node = (code: string): SpawnedChild => spawnPrefixed('t', process.execPath, ['-e', code], process.env);

  test('a crash is restarted with backoff and said; repeated crashes give up once', async () => {
    const lines: string[] = [];
    const pids: number[] = [];
    let gaveUp = 0;
    const c = new Component({
      tag: 'worker',
      policy: fast,
      log: (l) => lines.push(l),
      onGiveUp: () => gaveUp++,
      start: () => {
        const s = node('setTimeout(() => process.exit(3), 100)');
        pids.push(s.pid!);
        return Promise.resolve(s);
      },
    });
    await c.start();
    await until('give-up', () => gaveUp > 0, 20_000, 20);
    await sleep(300);
    assert.equal(gaveUp, 1);
    assert.equal(pids.length, 3, 'started 3 times: the first start and 2 restarts');
    assert.deepEqual(lines, [
      'worker exited (code 3); restarting in 0.1s (attempt 2/3)',
      `worker restarted (pid ${pids[1]})`,
      'worker exited (code 3); restarting in 0.1s (attempt 3/3)',
      `worker restarted (pid ${pids[2]})`,
      'worker exited (code 3); it failed 3 times within 1m, giving up',
    ]);
    assert.ok(!pids.some(alive));
  });

  test('a SIGKILLed process is restarted and reported with its signal; the others are untouched', async () => {
    const lines: string[] = [];
    const mk = (tag: string): Component =>
      new Component({
        tag,
        policy: fast,
        log: (l) => lines.push(l),
        onGiveUp: () => assert.fail('must not give up'),
        start: () => Promise.resolve(node('setInterval(() => {}, 1000)')),
      });
    const a = mk('a');
    const b = mk('b');
    await a.start();
    await b.start();
    const [a1, b1] = [a.pid!, b.pid!];
    process.kill(a1, 'SIGKILL');
    await until('a restarted', () => a.pid !== undefined && a.pid !== a1, 20_000, 20);
    assert.equal(lines[0], 'a exited (signal SIGKILL); restarting in 0.1s (attempt 2/3)');
    assert.equal(b.pid, b1, 'b kept running');
    await a.stop(2_000);
    await b.stop(2_000);
    assert.ok(!alive(a.pid) && !alive(b1));
  });

  test('stop() during the backoff cancels the restart and leaves nothing behind', async () => {
    const lines: string[] = [];
    let starts = 0;
    const c = new Component({
      tag: 'slow',
      policy: { ...fast, initialDelayMs: 2_000 },
      log: (l) => lines.push(l),
      onGiveUp: () => assert.fail('must not give up'),
      start: () => {
        starts++;
        return Promise.resolve(node('setInterval(() => {}, 1000)'));
      },
    });
    await c.start();
    const pid = c.pid!;
    process.kill(pid, 'SIGKILL');
    await until('the crash reported', () => lines.length === 1, 20_000, 20);
    await c.stop(1_000);
    await sleep(2_500);
    assert.equal(starts, 1, 'no restart after stop()');
    assert.equal(c.pid, undefined);
  });
});

test('stop() during the first start waits for it and stops what it started', async () => {
  let started: SpawnedChild | undefined;
  const c = new Component({
    tag: 'booting',
    log: () => undefined,
    onGiveUp: () => assert.fail('must not give up'),
    start: async () => {
      started = spawnPrefixed('t', process.execPath, ['-e', 'setInterval(() => {}, 1000)'], process.env);
      await sleep(500); // e.g. waiting for its port to answer
      return started;
    },
  });
  const starting = c.start();
  await sleep(100);
  await c.stop(1_000);
  await assert.rejects(starting, /stopped while starting/);
  assert.ok(started && !alive(started.pid), 'the process it started is gone');
});
