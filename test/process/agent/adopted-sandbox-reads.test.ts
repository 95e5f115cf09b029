// What one supervision pass (isAlive, every 250 ms) costs for a sandboxed run adopted after an
// agent restart, counted in /proc reads: it read the sandbox's process tree each time (root
// stat, its command line, then each level's children and command lines). The worker's pid and
// start time, found once, make it one read of /proc/<worker>/stat; a worker that exits is still
// seen at once. Counts the real reads of node:fs (readFileSync is wrapped, and the ESM bindings
// re-synced, for the counted calls only).
import assert from 'node:assert/strict';
import fs, { mkdtempSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { bubblewrapIsolation, bubblewrapUsable } from '../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';
import { spooledEvents as events } from '../../support/spool-events.js';
import { until } from '../../support/wait.js';

const logger = createLogger({ name: 'test', level: 'warn' });
const dataDir = mkdtempSync(join(tmpdir(), 'outpost-adopted-reads-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));
const bwrap = bubblewrapUsable();

/** The /proc paths `fn` reads with readFileSync. */
async function procReads(fn: () => Promise<unknown>): Promise<string[]> {
  const original = fs.readFileSync;
  const paths: string[] = [];
  fs.readFileSync = ((path: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
    if (typeof path === 'string' && path.startsWith('/proc/')) paths.push(path);
    return (original as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readFileSync;
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    fs.readFileSync = original;
    syncBuiltinESMExports();
  }
  return paths;
}

test(
  'an adopted sandboxed run costs one /proc read per supervision pass, and its exit is still seen',
  { skip: bwrap.ok ? false : `bubblewrap unusable here: ${bwrap.why}` },
  async () => {
    const isolation = bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir] });
    const launcher = new ProcessLauncher({ dataDir, isolation, logger });
    const runId = 'run_adopted_reads';
    await launcher.launch({
      runId,
      location: 'hello',
      job: 'sleepy',
      runConfig: { seconds: 60 },
      module: resolve('examples/hello/definitions.ts'),
    });
    await until('the op runs', () => events(launcher, runId).some((e) => e.type === 'STEP_START'), 30_000);
    // The agent restarts: a new launcher on the same data directory adopts the run.
    const restarted = new ProcessLauncher({ dataDir, isolation, logger });
    assert.equal(await restarted.isAlive(runId), true, 'the first pass finds the worker');
    for (let pass = 0; pass < 3; pass++) {
      let alive: boolean | undefined;
      const reads = await procReads(async () => (alive = await restarted.isAlive(runId)));
      assert.equal(alive, true);
      assert.equal(reads.length, 1, `pass ${pass} read ${reads.join(', ')}`);
      assert.match(reads[0]!, /^\/proc\/\d+\/stat$/);
    }
    assert.equal(await restarted.signal(runId, 'SIGKILL'), true);
    await until('the adopted run read as ended', async () => !(await restarted.isAlive(runId)), 30_000);
  },
);
