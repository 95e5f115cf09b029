// The registration retry schedule. An agent started while its control plane, or the control
// plane's database, is away retries registerAgent; with the old cap (15 s) a restarted agent
// became ready up to 15 s after PostgreSQL came back, plus its own start (19-21 s in
// test/faults/postgres-outage.test.ts). The next attempt now always comes within 2 s.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerRetryDelay } from '../../../src/agent/register-agent.js';

test('after any number of failed registrations the next attempt comes within 2 s', () => {
  const highest = (): number => 1 - Number.EPSILON;
  const lowest = (): number => 0;
  for (let attempt = 0; attempt < 40; attempt++) {
    assert.ok(
      registerRetryDelay(attempt, highest) <= 2_000,
      `attempt ${attempt}: ${registerRetryDelay(attempt, highest)} ms`,
    );
    assert.ok(
      registerRetryDelay(attempt, lowest) >= 250,
      `attempt ${attempt} waits some: ${registerRetryDelay(attempt, lowest)} ms`,
    );
  }
  // Backs off from the first retry (a control plane that is starting answers soon).
  assert.ok(registerRetryDelay(0, highest) <= 500);
});
