// A taken standby's replacement and a run that floods its spool, against real processes
// (`outpost api run-worker-standby` on examples/hello, no sandbox): when the launch settles with
// the events file already past FLOODED_SPOOL_BYTES, the refill (a whole worker boot) waits until
// supervision says the spool is drained, or until the next launch wants a standby; a run whose
// spool is light is refilled at once as before (warm-run-workers.test.ts).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { FLOODED_SPOOL_BYTES, ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { noIsolation } from '../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import { until } from '../../support/wait.js';

const MODULE = resolve('examples/hello/definitions.ts');
const logger = createLogger({ name: 'test', level: 'warn' });
const root = mkdtempSync(join(tmpdir(), 'outpost-refill-flood-'));
after(() => rmSync(root, { recursive: true, force: true }));

const spec = (runId: string, job: string, runConfig: Record<string, unknown> = {}) => ({
  runId,
  location: 'hello',
  job,
  runConfig,
  module: MODULE,
});

function newLauncher(name: string): ProcessLauncher {
  return new ProcessLauncher({ dataDir: join(root, name), isolation: noIsolation, logger, warmWorkers: 1 });
}

const eventsBytes = (launcher: ProcessLauncher, runId: string): number => {
  const file = join(launcher.spoolDir(runId), SPOOL_FILES.events);
  return existsSync(file) ? statSync(file).size : 0;
};

/** A few turns of the event loop: a refill starts on the next one. */
const ticks = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

async function floodedLaunch(launcher: ProcessLauncher, runId: string): Promise<void> {
  launcher.prewarm({ location: 'hello', module: MODULE });
  await until('a ready standby', () => launcher.standbys.counts().ready === 1);
  const handle = await launcher.launch(spec(runId, 'chatty', { events: 50_000 }));
  assert.match(handle.ref, /\(warm\)/);
  await until('the spool to flood', () => eventsBytes(launcher, runId) >= FLOODED_SPOOL_BYTES);
  assert.equal(launcher.standbys.spawned, 1);
}

describe('standby refill while a run floods its spool', () => {
  test('waits for the spool to be drained, then starts', async () => {
    const launcher = newLauncher('drained');
    try {
      await floodedLaunch(launcher, 'run_flood_1');
      launcher.launchSettled('run_flood_1');
      await ticks();
      assert.equal(launcher.standbys.spawned, 1, 'no refill while the spool floods');
      // Settling again (a later supervision pass that shipped something) changes nothing.
      launcher.launchSettled('run_flood_1');
      await ticks();
      assert.equal(launcher.standbys.spawned, 1);
      launcher.spoolDrained('run_flood_1');
      await until('the refill to spawn', () => launcher.standbys.spawned === 2);
      await until('the refill to be ready', () => launcher.standbys.counts().ready === 1);
      await until('the flood run to exit', async () => !(await launcher.isAlive('run_flood_1')));
    } finally {
      launcher.stop();
    }
  });

  test('the next launch does not wait for the drain: the held refill starts when it looks for a standby', async () => {
    const launcher = newLauncher('next-launch');
    try {
      await floodedLaunch(launcher, 'run_flood_2');
      launcher.launchSettled('run_flood_2');
      await ticks();
      assert.equal(launcher.standbys.spawned, 1);
      const next = await launcher.launch(spec('run_after_flood', 'hello'));
      assert.ok(launcher.standbys.spawned >= 2, 'the held refill started for the next launch');
      assert.ok(next.ref.length > 0);
      for (const id of ['run_flood_2', 'run_after_flood'])
        await until(`${id} to exit`, async () => !(await launcher.isAlive(id)));
    } finally {
      launcher.stop();
    }
  });
});
