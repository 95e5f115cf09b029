// One port over both kinds of location: the router sends each work item to the Outpost-SDK port
// (today's activities) or to DagsterCodeLocation by the location's kind, with one manager serving
// a TypeScript code server and a Dagster code server side by side.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CodeLocationPort } from '../../../activities/ports.js';
import { CodeLocationRouter } from '../../../src/agent/code-location-router.js';
import type { CodeServerManager } from '../../../src/agent/code-server-manager.js';
import { createOutpostCodeLocations } from '../../../src/agent/outpost-code-location.js';
import { DagsterCodeLocation } from '../../../src/agent/dagster/dagster-code-location.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { createLogger } from '../../../src/shared/logger.js';
import { EXAMPLE_DIR, RecordingControlPlane, dagsterManager, skip } from './dagster-manager-harness.js';

if (skip) console.log(`# skipping code-location router test: ${skip}`);

describe('CodeLocationRouter', { skip }, () => {
  const cp = new RecordingControlPlane();
  let manager: CodeServerManager;
  let router: CodeLocationPort;

  before(() => {
    const logger = createLogger({ name: 'test', level: 'silent' });
    manager = dagsterManager(cp);
    // Today's Outpost-SDK activities need only these of their deps for code-location calls.
    router = new CodeLocationRouter(manager, {
      outpost: createOutpostCodeLocations({ codeServers: manager, logger }),
      dagster: new DagsterCodeLocation(manager, { logger }),
    });
    cp.setModule('hello', 1, 'examples/hello/definitions.ts');
    cp.set('example', 1, { pythonFile: 'definitions.py', workingDirectory: EXAMPLE_DIR });
  });
  after(async () => {
    await manager?.stop();
  });

  test('each kind of location answers through its own port', async () => {
    assert.deepEqual(await router.sync({ location: 'hello', version: 1 }), { status: 'LOADED' });
    assert.deepEqual(await router.sync({ location: 'example', version: 1 }), { status: 'LOADED' });
    const tick = Date.UTC(2026, 11, 29, 2);
    const ts = await router.evaluateSchedule({ location: 'hello', schedule: 'every_minute', tickTimeMs: tick });
    assert.equal(ts.runRequests[0]?.job, 'hello');
    const dg = await router.evaluateSchedule({
      location: 'example',
      schedule: 'greeting_job_schedule',
      tickTimeMs: tick,
    });
    assert.equal(dg.runRequests[0]?.job, 'greeting_job');
    const names = await router.query({ location: 'example', job: 'paint_job', query: 'partitionNames', first: 1000 });
    assert.deepEqual(names.answer, { keys: ['red', 'green', 'blue'], offset: 0, total: 3 });
    await assert.rejects(
      router.evaluateSchedule({ location: 'example', schedule: 'every_minute', tickTimeMs: tick }),
      (e) => isOutpostError(e, 'UNKNOWN_SCHEDULE'),
    );
    // The Outpost port answers an unknown location with its coded error.
    await assert.rejects(router.evaluateSensor({ location: 'nowhere', sensor: 's' }), /not in the agent's workspace/);
  });
});
