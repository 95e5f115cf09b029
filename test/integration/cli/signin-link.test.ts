// `outpost signin-link` as a real child process against a real control plane: it finds the
// user token where the other client commands do (OUTPOST_TOKEN, then <data-dir>/user.token),
// prints only a link whose one-time code opens one browser session, and fails with a code
// when it has no valid token.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startScriptedStack, type ScriptedStack } from '../../support/scripted-agent.js';

const BIN = resolve(import.meta.dirname, '..', '..', '..', 'bin', 'outpost.mjs');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}, cwd = tmpdir()): Promise<CliResult> {
  // Only what the test names: no OUTPOST_TOKEN/OUTPOST_URL leaking in from the caller.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OUTPOST_')));
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('outpost signin-link', { timeout: 120_000 }, () => {
  let s: ScriptedStack;
  before(async () => {
    s = await startScriptedStack();
  });
  after(() => s?.close());

  /** What the sign-in page does with the code in the link's fragment. */
  async function signInWith(code: string): Promise<number> {
    const res = await fetch(`${s.url}/signin`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.url },
      body: new URLSearchParams({ code }).toString(),
    });
    return res.status;
  }

  function codeOf(link: string): string {
    const m = new RegExp(`^${s.url.replace(/[.]/g, '\\.')}/signin#code=(opc_[A-Za-z0-9_-]+)$`).exec(link);
    assert.ok(m, `a sign-in link on the control plane: ${link}`);
    return m[1]!;
  }

  test('with the token from <data-dir>/user.token it prints only a link that signs in once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-signin-'));
    writeFileSync(join(dataDir, 'user.token'), `${s.userToken}\n`, { mode: 0o600 });
    const r = await cli(['signin-link', '--url', s.url, '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1, `the link only: ${r.stdout}`);
    assert.ok(!r.stdout.includes(s.userToken) && !r.stderr.includes(s.userToken), 'the token is never printed');
    const code = codeOf(lines[0]!);
    assert.equal(await signInWith(code), 303, 'the fresh code opens a session');
    assert.equal(await signInWith(code), 401, 'and only once');
  });

  test('--json prints {url, expiresAt} with OUTPOST_TOKEN, and each call mints a new code', async () => {
    const t0 = Date.now();
    const runs = await Promise.all(
      [1, 2].map(() => cli(['signin-link', '--json', '--url', s.url], { OUTPOST_TOKEN: s.userToken })),
    );
    const docs = runs.map((r) => {
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { url: string; expiresAt: number };
    });
    for (const d of docs) {
      assert.deepEqual(Object.keys(d).sort(), ['expiresAt', 'url']);
      assert.ok(
        d.expiresAt > t0 && d.expiresAt <= Date.now() + 10 * 60_000,
        `expires within minutes: ${d.expiresAt - t0} ms`,
      );
    }
    const [a, b] = docs.map((d) => codeOf(d.url));
    assert.notEqual(a, b);
    assert.equal(await signInWith(b!), 303);
  });

  test('without a token, or with a wrong one, it exits 2 with a coded error and prints no link', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'outpost-signin-none-'));
    const none = await cli(['signin-link', '--url', s.url, '--data-dir', join(empty, '.outpost')], {}, empty);
    assert.equal(none.code, 2);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /OUTPOST_ERR_UNAUTHENTICATED/);
    const wrong = await cli(['signin-link', '--json', '--url', s.url], { OUTPOST_TOKEN: 'opu_not-a-token' });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stdout + wrong.stderr, /OUTPOST_ERR_UNAUTHENTICATED/);
    assert.doesNotMatch(wrong.stdout, /signin#code=/);
  });
});
