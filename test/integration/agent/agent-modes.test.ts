// Scale-out shape: `outpost agent poller` and `outpost agent worker` as separate processes
// (separate data dirs, so separate agent ids) still run a job end to end, and both stop
// cleanly (exit code 0) on SIGTERM.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { testTemporal } from '../../support/temporal.js';
import { HELLO_MODULE, spawnAgentProcess, startStack, type Stack } from '../../support/stack.js';

const t = await testTemporal();
let stack: Stack;
const children: ChildProcess[] = [];

async function sigterm(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

before(async () => {
  stack = await startStack({ temporalAddress: t.address });
  children.push(await spawnAgentProcess(stack, [], { mode: 'worker', dataDir: join(stack.dataDir, 'worker') }));
  children.push(await spawnAgentProcess(stack, [], { mode: 'poller', dataDir: join(stack.dataDir, 'poller') }));
  await stack.deploy('hello', HELLO_MODULE);
});
after(async () => {
  for (const c of children) await sigterm(c);
  await stack?.close();
});

test('a separate poller and worker run hello to SUCCESS, and stop cleanly on SIGTERM', async () => {
  const id = await stack.launch('hello');
  const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
  assert.equal(run.status, 'SUCCESS');
  assert.match(await stack.computeLogs(id, 'stdout'), /hello from outpost/);
  for (const c of children.splice(0)) assert.equal(await sigterm(c), 0);
});
