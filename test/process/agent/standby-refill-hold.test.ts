// While cold spawns wait for a boot slot (launches come faster than workers boot), the launcher
// starts no standby: neither the refill of one a launch took nor one for a launch that found
// none. They start once no spawn waits. Real processes (`outpost api run-worker-standby` and
// `execute-run` on examples/hello); the boot slots are the launcher's own, held by the test.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { createLogger } from '../../../src/shared/logger.js';
import { until } from '../../support/wait.js';

const MODULE = resolve('examples/hello/definitions.ts');
const root = mkdtempSync(join(tmpdir(), 'outpost-refill-hold-'));
after(() => rmSync(root, { recursive: true, force: true }));

const spec = (runId: string) => ({ runId, location: 'hello', job: 'noop', runConfig: {}, module: MODULE });

test('no standby starts while a cold spawn waits for a boot slot; one starts once none waits', async () => {
  const launcher = new ProcessLauncher({
    dataDir: join(root, 'agent'),
    logger: createLogger({ name: 'test', level: 'warn' }),
    warmWorkers: 1,
    maxBooting: 1,
  });
  try {
    launcher.prewarm({ location: 'hello', module: MODULE });
    await until('a ready standby', () => launcher.standbys.counts().ready === 1);
    assert.equal(launcher.standbys.spawned, 1);
    // The only boot slot is busy (as with a cold worker booting): the next cold spawn queues.
    const release = await launcher.bootSlots.acquire();
    const warm = await launcher.launch(spec('run_hold_warm'));
    assert.match(warm.ref, /\(warm\)/);
    const cold = launcher.launch(spec('run_hold_cold'));
    await until('the second launch waits for the boot slot', () => launcher.bootSlots.waiting === 1);
    // The first launch's refill (its launch has settled) and the second's miss both come now.
    launcher.launchSettled('run_hold_warm');
    await sleep(200);
    assert.equal(launcher.standbys.spawned, 1, 'no standby started while a cold spawn waits for a boot slot');
    release();
    const handle = await cold;
    assert.doesNotMatch(handle.ref, /\(warm\)/);
    await until('a standby once no spawn waits', () => launcher.standbys.counts().ready >= 1);
    assert.ok(launcher.standbys.spawned >= 2);
  } finally {
    launcher.stop();
  }
});
