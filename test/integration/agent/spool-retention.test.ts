// Run spools used to stay on the agent's disk for ever. A finished run's directory now goes once
// the control plane stores all its events and logs and its retention period has passed; a live
// run's, a run's with bytes the control plane lacks, one whose logs the control plane's per-run cap
// cut (the spool is then their only full copy), or one within its retention period stays.
// Real control plane, real Temporal, a real agent running real runs of examples/hello.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadAgentConfig } from '../../../src/agent/config.js';
import { sweepRunDirs } from '../../../src/agent/spool-retention.js';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { createLogger } from '../../../src/shared/logger.js';
import { testTemporal } from '../../support/temporal.js';
import { startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';

const t = await testTemporal();
const LOG_CAP = 12;
let stack: Stack;
let agent: RunningAgent;

before(async () => {
  // A log cap that greet_region's "hello eu\n" fits in and hello's "hello from outpost\n" does not.
  stack = await startStack({ temporalAddress: t.address, storeLimits: { computeLogCapBytes: LOG_CAP } });
  agent = await stack.startAgent('all');
  await stack.deploy('hello', 'examples/hello/definitions.ts');
});
after(async () => {
  await stack?.close();
});

/** greet_region for one partition: prints "hello <key>\n" (9 bytes, within LOG_CAP). */
const launchRegion = async (partitionKey: string): Promise<string> =>
  (
    await stack.gql<{ launchRun: { id: string } }>(
      `mutation($input: LaunchRunInput!) { launchRun(input: $input) { id } }`,
      { input: { location: 'hello', job: 'greet_region', partitionKey } },
    )
  ).launchRun.id;

const sweep = (retentionMs: number) =>
  sweepRunDirs({
    dataDir: join(agent.launcher.runDir('x'), '..', '..'),
    retentionMs,
    controlPlane: agent.controlPlane,
    agentId: () => agent.agentId,
    busy: (runId) => agent.launcher.running().includes(runId),
    now: Date.now,
    logger: createLogger({ name: 'test-retention', level: 'silent' }),
  });

test('a finished, fully stored run goes once its retention has passed; one within it, one the control plane lacks bytes of, one with logs past the cap, and a live one stay', async () => {
  const done = await launchRegion('eu');
  const unstored = await launchRegion('us');
  const capped = await stack.launch('hello');
  await stack.waitRun(done, ['SUCCESS']);
  await stack.waitRun(unstored, ['SUCCESS']);
  await stack.waitRun(capped, ['SUCCESS']);
  const live = await stack.launch('sleepy', { seconds: 60 });
  await stack.waitRun(live, ['STARTED']);
  for (const id of [done, unstored, capped, live]) assert.ok(existsSync(agent.launcher.spoolDir(id)), `spool of ${id}`);

  // Within its retention period: kept, whatever the control plane holds.
  const early = await sweep(3_600_000);
  assert.deepEqual(early.deleted, []);
  assert.equal(early.kept.get(done), 'within its retention period');

  // Bytes written after the run that the control plane never got (a shipment still owed).
  await until('the runs fully shipped', async () => {
    const c = await agent.controlPlane.runCursor(agent.agentId, unstored);
    const d = await agent.controlPlane.runCursor(agent.agentId, capped);
    return c.stdoutBytes > 0 && d.stdoutBytes > 0 ? c : undefined;
  });
  appendFileSync(join(agent.launcher.spoolDir(unstored), 'stdout.log'), 'not shipped\n');

  const swept = await until('the finished run deleted', async () => {
    const r = await sweep(0);
    return existsSync(agent.launcher.runDir(done)) ? undefined : r;
  });
  assert.ok(swept.deleted.includes(done));
  assert.equal(swept.kept.get(unstored), 'stdout not fully stored');
  // The control plane holds its first LOG_CAP bytes and a marker; the spool holds all of them.
  assert.equal(swept.kept.get(capped), 'logs truncated by the control plane: the spool is their only full copy');
  assert.match(await stack.computeLogs(capped, 'stdout'), /compute logs truncated/);
  assert.ok(existsSync(join(agent.launcher.spoolDir(capped), 'stdout.log')));
  assert.match(swept.kept.get(live) ?? '', /^(live here|its worker is alive)$/);
  assert.ok(existsSync(agent.launcher.spoolDir(live)));
  assert.ok(existsSync(agent.launcher.spoolDir(unstored)));
  // The events and logs stay readable where they are stored.
  assert.match(await stack.computeLogs(done, 'stdout'), /hello eu/);
  assert.ok(!readdirSync(join(agent.launcher.runDir(done), '..')).includes(done));
});

test('--spool-retention-hours defaults to 24 and 0 turns deletion off', () => {
  assert.equal(loadAgentConfig({ url: 'http://127.0.0.1:1' }, {}).spoolRetentionHours, 24);
  assert.equal(loadAgentConfig({ url: 'http://127.0.0.1:1', spoolRetentionHours: '0' }, {}).spoolRetentionHours, 0);
  assert.equal(
    loadAgentConfig({ url: 'http://127.0.0.1:1' }, { OUTPOST_AGENT_SPOOL_RETENTION_HOURS: '1.5' }).spoolRetentionHours,
    1.5,
  );
});
