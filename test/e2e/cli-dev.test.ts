// The `outpost` CLI against a real `outpost dev`, then Ctrl-C (SIGINT) leaves no process behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { startDevStack, type DevStack } from '../support/dev-stack.js';
import { alive, descendants } from '../support/process.js';
import { sleep } from '../support/wait.js';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'outpost.mjs');
let dev: DevStack;

before(async () => {
  dev = await startDevStack();
});
after(async () => {
  await dev?.stop();
});

function outpost(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  // The token by environment: the CLI refuses one on its command line.
  const res = spawnSync(process.execPath, [BIN, ...args, '--url', dev.url], {
    env: { ...process.env, OUTPOST_TOKEN: dev.userToken },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

test('runs launch hello --follow streams the run and exits 0', () => {
  const res = outpost('runs', 'launch', 'hello', '--follow');
  assert.equal(res.status, 0, res.stderr + res.stdout);
  assert.match(res.stdout, /RUN_START/);
  assert.match(res.stdout, /hello from outpost/);
  assert.match(res.stdout, /RUN_SUCCESS/);
  assert.match(res.stdout, /SUCCESS$/m);
  // One public sequence: the printed seqs are 1, 2, 3... with the control plane's ENGINE event
  // among them (it was printed as 1000000001 before).
  const events = [...res.stdout.matchAll(/^\d\d:\d\d:\d\d\.\d{3}\s+(\d+) ([A-Z_]+)/gm)].map((m) => ({
    seq: Number(m[1]),
    type: m[2],
  }));
  assert.deepEqual(
    events.map((e) => e.seq),
    events.map((_, i) => i + 1),
    res.stdout,
  );
  assert.ok(
    events.some((e) => e.type === 'ENGINE'),
    res.stdout,
  );
});

test('runs launch fail --follow exits non-zero and shows the error', () => {
  const res = outpost('runs', 'launch', 'fail', '--follow');
  assert.equal(res.status, 1, res.stderr + res.stdout);
  assert.match(res.stdout, /STEP_FAILURE/);
  assert.match(res.stdout, /RUN_FAILURE/);
});

test('--json output parses, and errors carry their code', () => {
  const list = outpost('runs', 'list', '--json');
  assert.equal(list.status, 0, list.stderr);
  const runs = JSON.parse(list.stdout) as { id: string; status: string; job: string }[];
  assert.ok(runs.some((r) => r.job === 'hello' && r.status === 'SUCCESS'));
  assert.ok(runs.some((r) => r.job === 'fail' && r.status === 'FAILURE'));

  const locations = JSON.parse(outpost('locations', 'list', '--json').stdout) as { name: string; status: string }[];
  assert.deepEqual(
    locations.map((l) => [l.name, l.status]),
    [['hello', 'LOADED']],
  );

  const schedules = JSON.parse(outpost('schedules', 'list', '--json').stdout) as { name: string }[];
  assert.ok(schedules.some((s) => s.name === 'every_minute'));

  const unknown = outpost('runs', 'launch', 'no_such_job', '--json');
  assert.equal(unknown.status, 2);
  const body = JSON.parse(unknown.stderr) as { error: { code: string; hint: string } };
  assert.equal(body.error.code, 'OUTPOST_ERR_UNKNOWN_JOB');
  assert.ok(body.error.hint.length > 0);

  const token = JSON.parse(outpost('tokens', 'create', '--name', 'ci', '--kind', 'agent', '--json').stdout) as {
    token: string;
    id: string;
  };
  assert.match(token.token, /^opa_/);
  const tokens = JSON.parse(outpost('tokens', 'list', '--json').stdout) as { id: string; revokedAt: number | null }[];
  assert.ok(tokens.some((t) => t.id === token.id && !t.revokedAt));
  assert.ok(!outpost('tokens', 'list', '--json').stdout.includes(token.token), 'token values are never listed');
  assert.equal(outpost('tokens', 'revoke', token.id).status, 0);
});

test('a bad token gets a coded error that says what to do', () => {
  const res = spawnSync(process.execPath, [BIN, 'runs', 'list', '--url', dev.url], {
    env: { ...process.env, OUTPOST_TOKEN: 'opu_wrong' },
    encoding: 'utf8',
  });
  assert.equal(res.status, 2);
  assert.match(res.stderr, /OUTPOST_ERR_UNAUTHENTICATED/);
  assert.match(res.stderr, /→ /);
});

test('the control plane and the agent run with MALLOC_ARENA_MAX=2 (fewer idle malloc arenas)', () => {
  const env = (pid: number): string[] => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const cmd = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const ours = descendants(dev.pid).filter((pid) => {
    const c = cmd(pid);
    return c.includes('agent') || c.includes('control-plane');
  });
  assert.equal(ours.length, 2, `agent and control plane among ${descendants(dev.pid).join(' ')}`);
  for (const pid of ours) assert.ok(env(pid).includes('MALLOC_ARENA_MAX=2'), cmd(pid).join(' '));
});

test('SIGINT stops outpost dev and every process it started', async () => {
  const pid = dev.pid;
  const tree = descendants(pid);
  assert.ok(
    tree.length >= 3,
    `expected Temporal, control plane, agent and code server under outpost dev, got ${tree.length}`,
  );
  await dev.stop();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && tree.some(alive)) await sleep(200);
  const left = tree.filter(alive);
  assert.deepEqual(left, [], `left behind: ${left.map((p) => `${p}`).join(', ')}`);
});
