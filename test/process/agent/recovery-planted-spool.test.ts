// User code can write its run's spool, so after an agent crash the spool may hold a symlink or a
// FIFO where events.jsonl was. Recovery (an intent written, no process record: the agent died
// between deciding to start the worker and recording it) and the boot probe read that file from
// outside the sandbox. Before: both followed links. A FIFO (size 0) or a link to an empty file
// read as "never started", so the launch spawned a second worker for a run whose code had
// already run; the boot probe read the link's target (a file of the agent's) looking for its
// first line. A real ProcessLauncher, real files, a real FIFO (mkfifo); no worker is alive.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { BootProbe } from '../../../src/agent/launchers/boot-slots.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { listRecordedProcesses, signalRecordedGroup, writeIntent } from '../../../src/agent/launchers/run-records.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-spool.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-recovery-planted-'));
const dataDir = join(dir, 'agent');
const launcher = new ProcessLauncher({ dataDir, logger: createLogger({ name: 't', level: 'silent' }) });
after(() => {
  launcher.stop();
  // Before the fix a worker was spawned: leave none behind.
  for (const p of listRecordedProcesses(dataDir)) signalRecordedGroup(p.record, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** A run the crashed agent meant to start: its intent is written, its spool holds what `plant` put there. */
async function launchAfterCrash(runId: string, plant: (events: string) => void): Promise<{ adopted: boolean }> {
  const spool = launcher.spoolDir(runId);
  mkdirSync(spool, { recursive: true });
  writeIntent(launcher.runDir(runId), { runId, at: Date.now() });
  plant(join(spool, SPOOL_FILES.events));
  const handle = await launcher.launch({
    runId,
    location: 'hello',
    job: 'hello',
    runConfig: {},
    module: resolve('examples/hello/definitions.ts'),
  });
  return { adopted: handle.adopted === true };
}

test('events.jsonl swapped for a FIFO: recovery adopts the run, no second worker', async () => {
  const got = await launchAfterCrash('run_planted_fifo', (events) => execFileSync('mkfifo', [events]));
  assert.equal(got.adopted, true, 'a second worker was spawned for a run whose code had run');
  assert.equal(launcher.spawnCount('run_planted_fifo'), 1, 'the recovered attempt is logged once');
});

test('events.jsonl swapped for a symlink to an empty file: recovery adopts the run, no second worker', async () => {
  const got = await launchAfterCrash('run_planted_link', (events) => symlinkSync('/dev/null', events));
  assert.equal(got.adopted, true, 'a second worker was spawned for a run whose code had run');
});

test('the boot probe never reads through a symlink planted at events.jsonl', () => {
  const secret = join(dir, 'agent.token');
  writeFileSync(secret, `opa_${'S'.repeat(43)}`);
  const spool = join(dir, 'probe-spool');
  mkdirSync(spool);
  symlinkSync(secret, join(spool, SPOOL_FILES.events));
  const probe = new BootProbe(join(spool, SPOOL_FILES.events));
  // The run's code replaced the file, so it is past its boot: the slot is given back.
  assert.equal(probe.ended(), true);
  assert.equal(probe.bytesRead, 0, 'the probe read the link target');
  assert.equal(readFileSync(secret, 'utf8').length, 47);
});
