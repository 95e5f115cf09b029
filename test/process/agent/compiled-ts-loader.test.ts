// A compiled `outpost agent` (dist/, rebuilt when stale as `npm start` does) deploys a TypeScript
// location (test/fixtures/user-code/ts-features) and runs a job, end to end: the agent's helper
// fills the compile cache at deploy (a manifest and one transpiled entry per file of the static
// graph), and the cold run worker imports the location through the light loader over that cache,
// not tsx. The proof is what the worker ran: after deploy the test rewrites the cached entry of
// helpers.ts (the source is untouched, so the manifest still holds), and the run's stdout shows
// the rewritten text — only a worker reading the cache can print it; under tsx it would not.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { stopGracefully } from '../../support/process.js';
import { spawnAgentProcess, startStack, type Stack } from '../../support/stack.js';
import { testTemporal } from '../../support/temporal.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const MODULE = join(ROOT, 'test/fixtures/user-code/ts-features/definitions.ts');
const LINKED = join(ROOT, 'test/fixtures/user-code/ts-linked/definitions.ts');
const t = await testTemporal();
const cacheDir = mkdtempSync(join(tmpdir(), 'outpost-e2e-ts-cache-'));
let stack: Stack;
let agent: ChildProcess | undefined;

before(async () => {
  const b = spawnSync(process.execPath, ['scripts/ensure-build.mjs'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(b.status, 0, b.stderr);
  stack = await startStack({ temporalAddress: t.address });
  // A cold run worker (no warm standby), started after the cache entry is rewritten below.
  agent = await spawnAgentProcess(stack, ['--warm-run-workers', '0'], {
    env: { OUTPOST_TS_CACHE_DIR: cacheDir, OUTPOST_TS_LOADER: '' },
    cli: [process.execPath, join(ROOT, 'dist/src/cli/main.js')],
  });
});
after(async () => {
  await stopGracefully(agent);
  await stack?.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

test('a compiled agent deploys a TypeScript location and its run worker loads it through the compile cache', async () => {
  await stack.deploy('ts_features', MODULE);
  const status = await stack.locationStatus('ts_features');
  assert.equal(status.status, 'LOADED', status.loadError ?? '');

  const files = readdirSync(cacheDir);
  assert.equal(files.filter((f) => f.startsWith('m-')).length, 1, `one manifest: ${files.join(' ')}`);
  const entries = files.filter((f) => !f.startsWith('m-')).map((f) => join(cacheDir, f));
  // definitions.ts, helpers.ts, lib/twice.ts, lib/index.ts (data.json is loaded natively).
  assert.equal(entries.length, 4, files.join(' '));
  const helpers = entries.filter((f) => readFileSync(f, 'utf8').includes('sides in'));
  assert.equal(helpers.length, 1, 'one cached entry holds helpers.ts');
  writeFileSync(
    helpers[0]!,
    readFileSync(helpers[0]!, 'utf8').replace('sides in', 'sides (from the compile cache) in'),
  );

  const id = await stack.launch('report', {}, 'ts_features');
  const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE']);
  const stdout = await stack.computeLogs(id, 'stdout');
  assert.equal(run.status, 'SUCCESS', `${stdout}\n${await stack.computeLogs(id, 'stderr')}`);
  const report = /^REPORT (.*)$/m.exec(stdout)?.[1];
  assert.ok(report, stdout);
  const r = JSON.parse(report) as { helper: string; lib: string; colour: string };
  assert.deepEqual(
    [r.helper, r.lib, r.colour],
    ['3 sides (from the compile cache) in helpers.ts', 'lib-index', 'blue'],
  );
});

test('a location whose whole graph the cache holds is linked at deploy, and its run worker imports the linked entries', async () => {
  await stack.deploy('ts_linked', LINKED);
  const status = await stack.locationStatus('ts_linked');
  assert.equal(status.status, 'LOADED', status.loadError ?? '');
  const manifests = readdirSync(cacheDir)
    .filter((f) => f.startsWith('m-'))
    .map(
      (f) =>
        JSON.parse(readFileSync(join(cacheDir, f), 'utf8')) as {
          files: object;
          linked?: { files: string[]; inlined?: { files: string[]; packages: string[] } };
        },
    );
  const m = manifests.find((x) => LINKED in x.files);
  // definitions.ts and, beside it, ts-features' helpers.ts, lib/twice.ts and lib/index.ts.
  assert.equal(m?.linked?.files.length, 4, JSON.stringify(m));
  // Run workers import the same four with zod/v4 inlined (ts-link-packages.ts), and zod's bundle.
  const inlined = m.linked.inlined;
  assert.deepEqual(
    inlined?.packages.map((p) => p.split('/').at(-1)),
    ['zod'],
    JSON.stringify(m),
  );
  assert.equal(inlined.files.filter((f) => f.startsWith('l-')).length, 4);
  // Only the linked entry of helpers.ts is rewritten: only a worker importing linked entries prints it.
  const helpers = inlined.files
    .map((f) => join(cacheDir, f))
    .filter((f) => readFileSync(f, 'utf8').includes('sides in'));
  assert.equal(helpers.length, 1);
  writeFileSync(helpers[0]!, readFileSync(helpers[0]!, 'utf8').replace('sides in', 'sides (linked) in'));

  const id = await stack.launch('report', {}, 'ts_linked');
  const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE']);
  const stdout = await stack.computeLogs(id, 'stdout');
  assert.equal(run.status, 'SUCCESS', `${stdout}\n${await stack.computeLogs(id, 'stderr')}`);
  const r = JSON.parse(/^REPORT (.*)$/m.exec(stdout)?.[1] ?? '{}') as { helper?: string; twice?: number };
  assert.deepEqual([r.helper, r.twice], ['3 sides (linked) in helpers.ts', 42]);
});
