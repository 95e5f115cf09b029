// A Dagster code server started with --heartbeat outlives no agent: kill -9 the process holding
// the manager (so nothing stops the server) and the server exits by itself once heartbeats stop.
// While the agent lives, its heartbeats keep the server up well past the timeout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { RecordingControlPlane, dagsterManager, isAlive, skip, until } from './dagster-manager-harness.js';

if (skip) console.log(`# skipping Dagster heartbeat test: ${skip}`);

const TIMEOUT_S = 4;

describe('Dagster code-server heartbeat', { skip }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-hb-'));
  let serverPid: number | undefined;
  after(() => {
    if (serverPid && isAlive(serverPid)) process.kill(serverPid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Starts a manager in a child process; resolves with it and its server's pid once LOADED. */
  async function holder(timeoutS: number) {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/integration/dagster/hold-dagster-server.ts', String(timeoutS), dataDir],
      { stdio: ['ignore', 'pipe', 'inherit'], env: process.env },
    );
    const line = await new Promise<string>((res, rej) => {
      createInterface({ input: child.stdout }).once('line', res);
      child.once('exit', (code) => rej(new Error(`holder exited ${code}`)));
    });
    const held = JSON.parse(line) as { status: string; pid: number };
    assert.equal(held.status, 'LOADED');
    serverPid = held.pid;
    return { child, held };
  }

  test('kill -9 of the agent-side process: the server exits by itself', async () => {
    const { child, held } = await holder(TIMEOUT_S);
    assert.equal(readdirSync(join(dataDir, 'code-servers')).length, 1, 'the pid is recorded for orphan reaping');
    // Alive past the timeout while the agent heartbeats.
    await new Promise((r) => setTimeout(r, (TIMEOUT_S + 2) * 1000));
    assert.ok(isAlive(held.pid), 'heartbeats keep the server up');
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await until('the orphaned server exits', () => !isAlive(held.pid), (TIMEOUT_S + 20) * 1000);
    console.log(
      `# server exited ${Date.now() - killedAt} ms after the agent's kill -9 (heartbeat timeout ${TIMEOUT_S} s)`,
    );
  });

  test('before its heartbeat timeout, the next agent on the same data dir reaps it', async () => {
    const { child, held } = await holder(600);
    child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(isAlive(held.pid), 'a 600 s heartbeat timeout keeps it up for now');
    const next = dagsterManager(new RecordingControlPlane(), { dataDir });
    try {
      await until('the orphan is reaped', () => !isAlive(held.pid), 10_000);
    } finally {
      await next.stop();
    }
  });
});
