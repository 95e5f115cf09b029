// The watch over run workers no supervision holds (activities/unsupervised-runs.ts): a worker is
// stopped only once its workflow is known to be closed, never on a guess, never while a
// superviseRun of this process holds it, and nothing is checked once the agent is stopping.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../../src/shared/logger.js';
import { UnsupervisedRuns } from '../../../activities/unsupervised-runs.js';
import { sleep, until } from '../../support/wait.js';

const logger = createLogger({ name: 'test', level: 'silent' });
// What must happen is waited for (a loaded host delays timers); a fixed pause is kept only
// before asserting that something did NOT happen, where a late timer cannot fail the test.
const tick = (ms = 40): Promise<void> => sleep(ms);
const soon = <T>(what: string, fn: () => T | undefined | false): Promise<T> => until(what, fn, 10_000, 5);

function watchWith(open: boolean | undefined | (() => Promise<boolean | undefined>), alive = true) {
  const ended: string[] = [];
  const asked: string[] = [];
  const runs = new UnsupervisedRuns({
    workflowOpen: async (runId) => {
      asked.push(runId);
      return typeof open === 'function' ? open() : open;
    },
    isAlive: () => Promise.resolve(alive),
    superviseToEnd: (runId) => Promise.resolve(void ended.push(runId)),
    logger,
    checkMs: 10,
  });
  return { runs, ended, asked };
}

test('a closed workflow: its live unsupervised worker is supervised to the end, once', async () => {
  const { runs, ended } = watchWith(false);
  runs.watch('r1');
  runs.watch('r1');
  await soon('r1 supervised to the end', () => ended.length > 0);
  runs.watch('r1');
  await tick();
  assert.deepEqual(ended, ['r1']);
});

test('an open workflow or one Temporal cannot tell of: never stopped, asked again later', async () => {
  for (const open of [true, undefined, () => Promise.reject(new Error('unreachable'))]) {
    const { runs, ended, asked } = watchWith(open);
    runs.watch('r1');
    await soon('a second check', () => asked.length >= 2);
    runs.stop();
    assert.deepEqual(ended, []);
  }
});

test('held by a superviseRun: not checked; when supervision ends because its workflow is gone, checked at once', async () => {
  const { runs, ended, asked } = watchWith(false);
  runs.watch('r1');
  const done = runs.supervise('r1');
  await tick();
  assert.deepEqual(asked, []);
  done('workflow-gone');
  await soon('r1 supervised to the end', () => ended.length > 0);
  assert.deepEqual(ended, ['r1']);
});

test('a worker that is gone is not asked about; an agent stopping checks nothing more', async () => {
  const gone = watchWith(false, false);
  gone.runs.watch('r1');
  await tick();
  assert.deepEqual(gone.asked, []);
  const stopping = watchWith(false);
  stopping.runs.watch('r1');
  stopping.runs.supervise('r2')('shutdown');
  stopping.runs.watch('r3');
  await tick();
  assert.deepEqual(stopping.ended, []);
  assert.equal(stopping.runs.watched, 0);
});

test('a check still asking Temporal when supervision ends (workflow gone) and checks again: supervised to the end once', async () => {
  // The first check is waiting on describe() when a superviseRun starts and ends told its
  // workflow is gone, which checks again at once: both learn the workflow is closed.
  const answers: ((open: boolean) => void)[] = [];
  const { runs, ended } = watchWith(() => new Promise<boolean>((r) => answers.push(r)));
  runs.watch('r1', 0);
  await soon('the first check asking Temporal', () => answers.length === 1);
  runs.supervise('r1')('workflow-gone');
  await soon('the check made when supervision ended', () => answers.length === 2);
  for (const answer of answers) answer(false);
  await soon('r1 supervised to the end', () => ended.length > 0);
  await tick();
  runs.stop();
  assert.deepEqual(ended, ['r1']);
});
