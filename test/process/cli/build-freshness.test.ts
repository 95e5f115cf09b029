// `npm start`'s build step (scripts/ensure-build.mjs) and the bin's choice (bin/outpost.mjs),
// on a small install of their own: a missing build is built, a fresh one is left alone (and
// run by the bin), an edited source makes it stale (the bin falls back to tsx) and the next
// `npm start` rebuilds it; a deleted source counts as an edit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { buildState } from '../../../bin/build-state.mjs';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
let fake: string;

function put(rel: string, text: string): void {
  mkdirSync(dirname(join(fake, rel)), { recursive: true });
  writeFileSync(join(fake, rel), text);
}
function node(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, args, { cwd: fake, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}
/** Dates the build 10 s back, so what is written next is an edit made after it. */
function ageBuild(): void {
  const t = new Date(Date.now() - 10_000);
  utimesSync(join(fake, 'dist', '.build-stamp'), t, t);
}

before(() => {
  // Inside the install: the scripts resolve esbuild and @temporalio/worker from node_modules.
  fake = mkdtempSync(join(ROOT, '.build-test-'));
  for (const f of ['bin/outpost.mjs', 'bin/build-state.mjs', 'scripts/build.mjs', 'scripts/ensure-build.mjs']) {
    mkdirSync(dirname(join(fake, f)), { recursive: true });
    copyFileSync(join(ROOT, f), join(fake, f));
  }
  // Prints which form ran: the compiled .js or the .ts through tsx.
  put(
    'src/cli/main.ts',
    "const form: string = import.meta.url.endsWith('.js') ? 'compiled' : 'source';\nconsole.log(form);\n",
  );
  put('src/shared/extra.ts', 'export const x = 1;\n');
  // The entries the build writes as one file each (run workers' entry, the SDK, the option parser).
  put('src/cli/user-code-main.ts', 'export const worker = 1;\n');
  put('src/user-code/sdk/index.ts', 'export const sdk = 1;\n');
  put('src/cli/commander.ts', "export { Command, Option } from 'commander';\n");
  put('workflows/index.ts', 'export async function noop(): Promise<void> {}\n');
  put('activities/index.ts', 'export const none = {};\n');
});
after(() => {
  if (fake) rmSync(fake, { recursive: true, force: true });
});

test('npm start builds a missing build, skips a fresh one, rebuilds a stale one; the bin runs dist only when fresh', () => {
  assert.equal(buildState(fake), 'missing');
  assert.equal(node('bin/outpost.mjs').stdout, 'source');

  let r = node('scripts/ensure-build.mjs');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /build missing: compiling/);
  assert.equal(buildState(fake), 'fresh');
  assert.equal(node('bin/outpost.mjs').stdout, 'compiled');

  r = node('scripts/ensure-build.mjs');
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /compiling/);

  ageBuild();
  put('src/cli/main.ts', "console.log(import.meta.url.endsWith('.js') ? 'compiled v2' : 'source v2');\n");
  assert.equal(buildState(fake), 'stale');
  assert.equal(node('bin/outpost.mjs').stdout, 'source v2', 'a stale build must not run');
  r = node('scripts/ensure-build.mjs');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /build stale: compiling/);
  assert.equal(node('bin/outpost.mjs').stdout, 'compiled v2');

  // A deleted module changes its directory: stale, and the rebuild drops it.
  ageBuild();
  rmSync(join(fake, 'src/shared/extra.ts'));
  assert.equal(buildState(fake), 'stale');
  assert.equal(node('scripts/ensure-build.mjs').status, 0);
  assert.equal(buildState(fake), 'fresh');
  assert.equal(node('-e', "process.exit(require('fs').existsSync('dist/src/shared/extra.js') ? 1 : 0)").status, 0);
});
