// The `outpost` bin run as a program (as npm's bin link and `npm start` run it) starts Node with
// MALLOC_ARENA_MAX=2 unless the environment sets it, in the same process (the shell execs Node),
// and it still runs as plain `node bin/outpost.mjs`. The CLI is caught waiting on a server that
// accepts its request and never answers, so its /proc/<pid>/environ can be read while it runs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { exitOf } from '../../support/process.js';

const BIN = resolve(import.meta.dirname, '..', '..', '..', 'bin', 'outpost.mjs');
let server: Server;
let url: string;
let arrived: (() => void) | undefined;

before(async () => {
  server = createServer(() => arrived?.()); // never answers
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** Runs `outpost runs list` through the bin; returns its process's command and environment while it waits. */
async function envOfRunningBin(env: NodeJS.ProcessEnv): Promise<{ cmd: string[]; env: string[] }> {
  const request = new Promise<void>((r) => (arrived = r));
  const child = spawn(BIN, ['runs', 'list', '--url', url], {
    env: { ...process.env, OUTPOST_TOKEN: 'x', ...env },
    stdio: 'ignore',
  });
  try {
    await request;
    return {
      cmd: readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0'),
      env: readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0'),
    };
  } finally {
    child.kill('SIGKILL');
    await exitOf(child);
  }
}

test('the bin starts Node with MALLOC_ARENA_MAX=2, in its own process', async () => {
  const { cmd, env } = await envOfRunningBin({ MALLOC_ARENA_MAX: undefined });
  assert.match(cmd[0] ?? '', /node$/, `the shell exec'd Node: ${cmd.join(' ')}`);
  assert.ok(env.includes('MALLOC_ARENA_MAX=2'), env.filter((e) => e.startsWith('MALLOC')).join(' '));
});

test('a MALLOC_ARENA_MAX the environment sets is kept', async () => {
  const { env } = await envOfRunningBin({ MALLOC_ARENA_MAX: '8' });
  assert.ok(env.includes('MALLOC_ARENA_MAX=8'), env.filter((e) => e.startsWith('MALLOC')).join(' '));
});

test('node bin/outpost.mjs still runs the CLI', () => {
  const res = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /Usage: outpost/);
});

// Node 20 reads `--env-file <path>` anywhere on its command line as its own option: given a
// missing file it exited 9 with "node: <path>: not found", before the CLI ran.
test("the CLI's own --env-file reaches it: a missing file is its coded error, not Node's exit 9", () => {
  const missing = '/nonexistent/outpost-location.env';
  const res = spawnSync(BIN, ['locations', 'deploy', 'etl', '--module', 'm.py', '--env-file', missing, '--url', url], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, OUTPOST_TOKEN: 'x' },
  });
  assert.notEqual(res.status, 9, res.stderr);
  assert.equal(res.status, 2, res.stderr);
  assert.match(res.stderr, /OUTPOST_ERR_CONFIG_INVALID/);
  assert.match(res.stderr, /--env-file \/nonexistent\/outpost-location\.env: no such file/);
});
