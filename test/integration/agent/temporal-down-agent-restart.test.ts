// A restart order a platform engineer meets: Temporal goes down (kill -9) with runs in flight,
// and the agent is restarted (kill -9, started again) while Temporal is still down. The agent
// used to exit at start with TEMPORAL_UNAVAILABLE, so nothing recovered until someone started it
// again by hand; it now waits for Temporal, saying so with the code each try, and once Temporal
// is back the runs in flight finish once with every event, and new launches work.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../../../src/shared/net.js';
import { startDevServer, type DevServer } from '../../../src/shared/temporal-dev-server.js';
import { kill9, spawnOutpost } from '../../support/process.js';
import { HELLO_MODULE, spawnAgentProcess, startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-temporal-down-restart-'));
const dbFile = join(dir, 'temporal.db');
let port: number;
let temporal: DevServer | undefined;
let stack: Stack;
let agent: ChildProcess | undefined;

before(async () => {
  port = await freePort();
  temporal = await startDevServer({ dbFile, port, logFile: join(dir, 'temporal.log') });
  stack = await startStack({ temporalAddress: temporal.address });
  agent = await spawnAgentProcess(stack);
  await stack.deploy('hello', HELLO_MODULE);
});
after(async () => {
  await kill9(agent);
  await stack?.close();
  await temporal?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('kill -9 Temporal, then kill -9 and restart the agent while Temporal is down: it waits, says why, and every run finishes once', async () => {
  const ids = [await stack.launch('sleepy', { seconds: 4 }), await stack.launch('sleepy', { seconds: 4 })];
  for (const id of ids) await stack.waitRun(id, ['STARTED']);
  await kill9(temporal!.process);
  await kill9(agent);

  const tokenFile = join(dir, 'agent.token');
  writeFileSync(tokenFile, `${stack.agentToken}\n`, { mode: 0o600 });
  const output: string[] = [];
  const restarted = spawnOutpost(
    [
      'agent',
      '--url',
      stack.cp.url,
      '--token-file',
      tokenFile,
      '--temporal-address',
      stack.temporalAddress,
      '--task-queue',
      stack.taskQueue,
      '--data-dir',
      join(stack.dataDir, 'agent'),
    ],
    /OUTPOST_AGENT_READY/,
    { OUTPOST_LOG_LEVEL: 'info' },
    output,
  );
  // Not ready, not gone: waiting, and saying what it waits for, with the code.
  const said = await until('the agent names the outage', () =>
    output.find((l) => /Temporal not reached; retrying/.test(l) && /OUTPOST_ERR_TEMPORAL_UNAVAILABLE/.test(l)),
  );
  assert.match(said, new RegExp(stack.temporalAddress.replace(/\./g, '\\.')));

  temporal = await startDevServer({ dbFile, port, logFile: join(dir, 'temporal.log') });
  agent = (await restarted).child;
  for (const id of ids) {
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 240_000);
    assert.equal(run.status, 'SUCCESS', `run ${id}`);
    assert.deepEqual(
      run.events.map((e) => e.seq),
      Array.from({ length: run.events.length }, (_, i) => i + 1),
      `run ${id}: public seqs 1..N, each once`,
    );
    assert.equal(run.events.filter((e) => e.type === 'RUN_START').length, 1, `run ${id}: one start`);
  }
  const next = await stack.launch('hello');
  assert.equal((await stack.waitRun(next, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000)).status, 'SUCCESS');
});
