// LaunchAhead: the launch activity joins the launch the poller began for its run (one launch,
// its outcome handed over once); a failed one leaves the activity to launch itself; nothing
// begins for a run whose launch activity came first, nor twice for one run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LaunchAhead } from '../../../src/agent/launch-ahead.js';

type Payload = { runId: string };

function ahead(outcome: (p: Payload) => Promise<string>) {
  const started: string[] = [];
  const board = new LaunchAhead<Payload, string>();
  board.serve((p) => {
    started.push(p.runId);
    return outcome(p);
  });
  return { board, started };
}

test('the activity joins the launch begun ahead of it: one launch, its outcome once', async () => {
  let finish!: (v: string) => void;
  const { board, started } = ahead(() => new Promise<string>((r) => (finish = r)));
  board.begin({ runId: 'r1' });
  board.begin({ runId: 'r1' });
  assert.deepEqual(started, ['r1'], 'begun once');
  const joined = board.join('r1');
  assert.ok(joined, 'an in-flight launch is joined');
  finish('launched r1');
  assert.equal(await joined, 'launched r1');
  assert.equal(board.join('r1'), undefined, 'handed over once: a later launch activity launches (and adopts) itself');
  assert.deepEqual([board.begun, board.joined], [1, 1]);
});

test('a launch that failed ahead is left to the activity', async () => {
  const { board } = ahead(() => Promise.reject(new Error('spawn failed')));
  board.begin({ runId: 'r1' });
  assert.equal(await board.join('r1'), undefined);
});

test('nothing begins for a run whose launch activity came first, nor before the activities serve', () => {
  const idle = new LaunchAhead<Payload, string>();
  idle.begin({ runId: 'r0' });
  assert.equal(idle.begun, 0, 'no launch to begin before serve()');
  const { board, started } = ahead(() => Promise.resolve('x'));
  assert.equal(board.join('r2'), undefined, 'nothing to join: the activity launches');
  board.begin({ runId: 'r2' });
  assert.deepEqual(started, [], 'not begun behind the activity');
});
