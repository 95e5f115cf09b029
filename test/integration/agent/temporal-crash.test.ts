// kill -9 of the Temporal dev server (SQLite file) while runs are in flight, then a restart on
// the same file and port: the runs still finish, and new launches work again.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../../../src/shared/net.js';
import { startDevServer, type DevServer } from '../../../src/shared/temporal-dev-server.js';
import { HELLO_MODULE, spawnAgentProcess, startStack, type Stack } from '../../support/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-temporal-crash-'));
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
  if (agent && agent.exitCode === null) {
    const exited = new Promise((r) => agent!.once('exit', r));
    agent.kill('SIGTERM');
    const timer = setTimeout(() => agent?.kill('SIGKILL'), 45_000);
    await exited;
    clearTimeout(timer);
  }
  await stack?.close();
  await temporal?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('kill -9 of the Temporal server mid-run: the runs still finish after it restarts', async () => {
  const ids = [
    await stack.launch('sleepy', { seconds: 6 }),
    await stack.launch('sleepy', { seconds: 6 }),
    await stack.launch('chatty', { events: 2_000 }),
  ];
  for (const id of ids.slice(0, 2)) await stack.waitRun(id, ['STARTED']);
  const victim = temporal!;
  const dead = new Promise((r) => victim.process.once('exit', r));
  victim.process.kill('SIGKILL');
  await dead;
  await new Promise((r) => setTimeout(r, 2_000));
  temporal = await startDevServer({ dbFile, port, logFile: join(dir, 'temporal.log') });
  for (const id of ids) {
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 240_000);
    assert.equal(run.status, 'SUCCESS', `run ${id}`);
    assert.deepEqual(
      run.events.map((e) => e.seq),
      Array.from({ length: run.events.length }, (_, i) => i + 1),
      `run ${id}: public seqs 1..N`,
    );
    const own = run.events.flatMap((e) => (e.workerSeq === null ? [] : [e.workerSeq]));
    assert.deepEqual(
      own,
      Array.from({ length: own.length }, (_, i) => i + 1),
    );
  }
  const fresh = await stack.launch('hello');
  assert.equal((await stack.waitRun(fresh, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000)).status, 'SUCCESS');
});
