// A run worker that cannot be spawned (its code location's working directory is gone): the
// launch fails with RUN_WORKER_SPAWN_FAILED, which the run workflow turns into a FAILURE the user
// sees, and the agent lives on. Node reports such a spawn as a child without a pid plus an 'error'
// event on the next tick: unheard, that event is an uncaught exception that kills the agent (and
// the retried launch kills the restarted one). Real parts: the ProcessLauncher, a real spawn.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { createLogger } from '../../../src/shared/logger.js';

describe('a run worker that cannot be spawned', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-spawn-failure-'));
  const launcher = new ProcessLauncher({ dataDir, logger: createLogger({ name: 'agent', level: 'silent' }) });
  after(() => {
    launcher.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a missing working directory: a coded launch failure, and no uncaught error in the agent', async () => {
    const uncaught: Error[] = [];
    const onUncaught = (err: Error): void => void uncaught.push(err);
    // node:test would report it against some test; counted here to name it.
    process.prependListener('uncaughtException', onUncaught);
    try {
      const spec = {
        runId: 'run_spawn_failure_1',
        location: 'gone',
        job: 'sleepy',
        runConfig: {},
        module: resolve('examples/hello/definitions.ts'),
        cwd: join(dataDir, 'no-such-directory'),
      };
      await assert.rejects(launcher.launch(spec), (err: unknown) => {
        assert.ok(isOutpostError(err, 'RUN_WORKER_SPAWN_FAILED'), String(err));
        return true;
      });
      // The child's 'error' event comes on a later tick.
      await sleep(200);
      assert.deepEqual(
        uncaught.map((e) => e.message),
        [],
        'the failed spawn raised an uncaught error (the agent would crash)',
      );
      assert.equal(launcher.spawnCount(spec.runId), 0);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
  });
});
