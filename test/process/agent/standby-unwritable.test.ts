// A standby run worker whose files cannot be written under the agent's data directory (seen
// with a full disk: ENOSPC from its process record). The refill runs from setImmediate, so the
// throw was uncaught and ended the agent; the next run then stayed QUEUED with no agent left.
// Now the launch runs cold, the agent logs why and lives on. The write is made to fail for
// real: the standbys' directory is a regular file, so creating a standby's directory fails
// (ENOTDIR) as a full disk fails its record (ENOSPC) - the same throw, one line earlier.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { standbyRoot } from '../../../src/agent/launchers/run-records.js';
import { createLogger } from '../../../src/shared/logger.js';
import { until } from '../../support/wait.js';
import { spooledEvents } from '../../support/spool-events.js';

const MODULE = resolve('examples/hello/definitions.ts');

describe("standby run workers when the agent's data directory refuses their files", () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-standby-unwritable-'));
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const launcher = new ProcessLauncher({
    dataDir,
    logger: createLogger({ name: 'agent', level: 'warn', destination }),
    warmWorkers: 1,
  });
  // After the launcher started (it clears the standbys' directory of a previous agent's).
  rmSync(standbyRoot(dataDir), { recursive: true, force: true });
  writeFileSync(standbyRoot(dataDir), 'not a directory');
  after(() => {
    launcher.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the launch runs cold, the agent says why and does not crash', async () => {
    const uncaught: Error[] = [];
    const onUncaught = (err: Error): void => void uncaught.push(err);
    process.prependListener('uncaughtException', onUncaught);
    try {
      // As the agent does when a location loads, then a launch that finds no standby.
      launcher.prewarm({ location: 'hello', module: MODULE });
      const handle = await launcher.launch({
        runId: 'run_unwritable_1',
        location: 'hello',
        job: 'hello',
        runConfig: {},
        module: MODULE,
      });
      assert.doesNotMatch(handle.ref, /\(warm\)/);
      await until('the run to exit', async () => !(await launcher.isAlive('run_unwritable_1')));
      assert.equal(spooledEvents(launcher, 'run_unwritable_1').at(-1)?.type, 'RUN_SUCCESS');
      // The refill the launch asked for runs on a later tick.
      await sleep(200);
      assert.deepEqual(
        uncaught.map((e) => e.message),
        [],
        'a standby that could not be written raised an uncaught error (the agent would crash)',
      );
      assert.deepEqual(launcher.standbys.pids(), []);
      const warned = lines.map((l) => JSON.parse(l) as { msg: string; errno?: string });
      assert.ok(
        warned.some((l) => /could not start a standby run worker/.test(l.msg) && l.errno === 'ENOTDIR'),
        `no warning naming the failure: ${lines.join('')}`,
      );
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
  });
});
