// The cold-boot cap (--max-booting-run-workers) against real run workers: with a cap of 1, three
// runs launched at once boot one after another — read from the launcher's records, each worker's
// spawn (process.json's spawnedAt) to its boot's end (its second spool event, the worker's own
// timestamp) never overlaps another's — and all three succeed, spawned once each. A run waiting
// for its slot leaves nothing on disk but its config and never blocks the event loop. Without a
// cap the same measure sees the boots overlap, so it can tell the two apart.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { readProcessRecord } from '../../../src/agent/launchers/run-records.js';
import { bubblewrapIsolation, bubblewrapUsable, noIsolation } from '../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';
import { until } from '../../support/wait.js';
import { spooledEvents as events } from '../../support/spool-events.js';

const MODULE = resolve('examples/hello/definitions.ts');
const logger = createLogger({ name: 'test', level: 'warn' });
const dataDir = mkdtempSync(join(tmpdir(), 'outpost-boot-slots-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const spec = (runId: string) => ({ runId, location: 'hello', job: 'hello', runConfig: {}, module: MODULE });

/** Most boots in flight at once, from the records: [spawnedAt, second event's timestamp] per run. */
function maxOverlap(launcher: ProcessLauncher, ids: string[]): number {
  const edges: Array<[number, number]> = [];
  for (const id of ids) {
    const spawnedAt = readProcessRecord(launcher.runDir(id))!.spawnedAt;
    const booted = events(launcher, id)[1]!.timestamp;
    edges.push([spawnedAt, 1], [booted, -1]);
  }
  // An end and a start at the same millisecond do not overlap: ends first.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (now += d));
  return most;
}

async function launchThree(
  launcher: ProcessLauncher,
  prefix: string,
): Promise<{ ids: string[]; sawWaiting: boolean; ticks: number }> {
  const ids = [1, 2, 3].map((n) => `${prefix}_${n}`);
  let ticks = 0;
  let sawWaiting = false;
  const timer = setInterval(() => {
    ticks++;
    if (launcher.bootSlots.waiting > 0) {
      sawWaiting = true;
      // Waiting for a slot: the run has its config and nothing else (no intent, no process).
      for (const id of ids) {
        if (!existsSync(join(launcher.runDir(id), 'intent.json')))
          assert.equal(readProcessRecord(launcher.runDir(id)), undefined);
      }
    }
  }, 5);
  try {
    const handles = await Promise.all(ids.map((id) => launcher.launch(spec(id))));
    assert.ok(handles.every((h) => !h.adopted));
  } finally {
    clearInterval(timer);
  }
  for (const id of ids) await until(`${id} exits`, async () => !(await launcher.isAlive(id)), 60_000);
  for (const id of ids) {
    assert.equal(events(launcher, id).at(-1)?.type, 'RUN_SUCCESS', id);
    assert.equal(launcher.spawnCount(id), 1, id);
  }
  return { ids, sawWaiting, ticks };
}

const bwrap = bubblewrapUsable();
for (const mode of ['none', 'bubblewrap'] as const) {
  const isolation = mode === 'none' ? noIsolation : bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir] });
  const skip = mode === 'bubblewrap' && !bwrap.ok ? `bubblewrap unusable here: ${bwrap.why}` : false;
  describe(`cold-boot cap (isolation ${mode})`, { skip }, () => {
    test('a cap of 1: three launches at once boot one at a time, all succeed, spawned once', async () => {
      const launcher = new ProcessLauncher({ dataDir, isolation, logger, maxBooting: 1 });
      const { ids, sawWaiting, ticks } = await launchThree(launcher, `${mode}_capped`);
      assert.ok(sawWaiting, 'a launch waited for a boot slot');
      assert.ok(ticks > 0, 'the event loop ran while launches waited');
      assert.equal(launcher.bootSlots.peak, 1);
      assert.equal(maxOverlap(launcher, ids), 1);
    });
  });
}

test('without a cap (0) the same records show the three boots overlapping', async () => {
  const launcher = new ProcessLauncher({ dataDir, logger, maxBooting: 0 });
  const { ids, sawWaiting } = await launchThree(launcher, 'uncapped');
  assert.equal(sawWaiting, false);
  assert.ok(maxOverlap(launcher, ids) > 1, `overlap ${maxOverlap(launcher, ids)}`);
});
