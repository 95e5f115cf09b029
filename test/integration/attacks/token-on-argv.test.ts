// Attack (issue 13, item 1 "never on argv"): a CLI token given as `--token opu_…` sits in the
// process's argv, which every process of the host reads at /proc/<pid>/cmdline, and
// `npx outpost … --token opu_…` is written by npm into ~/.npm/_logs/*-debug-0.log. A probe in a
// bubblewrap sandbox found a live admin token there on a real host: the sandbox hides the
// agent's data dir, not $HOME. The CLI refuses a token on its command line, with a coded error,
// and reads one from OUTPOST_TOKEN or a file named by --token-file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';

const BIN = resolve('bin/outpost.mjs');

describe('attack: a user token on the CLI command line', () => {
  let cp: ControlPlane;
  let dir: string;
  let token: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-argv-'));
    cp = await startControlPlane({
      databaseUrl: `sqlite:${join(dir, 'outpost.db')}`,
      port: 0,
      daemon: false,
      web: false,
      logger: createLogger({ name: 'argv', level: 'silent' }),
    });
    token = await cp.issueToken('user', 'cli', 'ADMIN');
  });
  after(async () => {
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // No OUTPOST_TOKEN inherited from the test's own environment, and no .outpost/ to fall back on.
  // Async: the control plane answers from this process's event loop.
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const base = { ...process.env };
    delete base.OUTPOST_TOKEN;
    const child = spawn(process.execPath, [BIN, ...args, '--url', cp.url, '--data-dir', join(dir, 'none')], {
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise<{ status: number | null; stdout: string; stderr: string }>((done) =>
      child.on('close', (status) => done({ status, stdout, stderr })),
    );
  };

  test('`--token <token>` is refused before any request, naming the safe ways', async () => {
    const r = await cli(['locations', 'list', '--token', token]);
    assert.notEqual(r.status, 0, `a token on argv was accepted: ${r.stdout}`);
    assert.match(r.stderr, /OUTPOST_ERR_TOKEN_ON_COMMAND_LINE/);
    assert.match(r.stderr, /--token-file/);
    assert.ok(!r.stderr.includes(token), 'the refusal echoes the token');
  });

  test('--token-file and OUTPOST_TOKEN work', async () => {
    const file = join(dir, 'cli.token');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const byFile = await cli(['locations', 'list', '--json', '--token-file', file]);
    assert.equal(byFile.status, 0, byFile.stderr);
    assert.deepEqual(JSON.parse(byFile.stdout), []);
    const byEnv = await cli(['locations', 'list', '--json'], { OUTPOST_TOKEN: token });
    assert.equal(byEnv.status, 0, byEnv.stderr);
  });
});
