// The compiled run worker's two ways to import a TypeScript location: tsx, and the light loader
// over the compile cache (src/shared/ts-cache.ts, ts-precompile.ts, src/user-code/common/ts-hooks.ts).
// Both must mean the same: relative `.js`/extensionless/directory imports of .ts files, a JSON
// import, import.meta.url, a stack trace pointing at the .ts line, and what the static graph does
// not show (a dynamic .tsx/.cts/CommonJS-scope .ts import, require() of a .ts). A file changed since the
// cache was filled sends the process back to tsx; a cache entry gone is transpiled in memory;
// under bubblewrap the cache is read-only and still read. Runs dist/ (rebuilt when stale, as
// `npm start` does) with a cache directory of its own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { bubblewrapIsolation, bubblewrapUsable } from '../../../src/agent/launchers/sandbox.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const FIXTURE = join(ROOT, 'test/fixtures/user-code/ts-features');
let work: string;
let cacheDir: string;
let location: string;
/** A copy of ts-linked (its imports reach into ts-features, beside it). */
let linkedLocation: string;

before(() => {
  const b = spawnSync(process.execPath, ['scripts/ensure-build.mjs'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(b.status, 0, b.stderr);
  work = mkdtempSync(join(tmpdir(), 'outpost-ts-loader-'));
  // Not under `work`: nothing the sandbox test binds writable may cover it.
  cacheDir = mkdtempSync(join(tmpdir(), 'outpost-ts-cache-'));
  // A copy inside the install (ESM scope, `outpost/sdk` resolves), so a test may edit it.
  location = join(mkdtempSync(join(ROOT, 'test/fixtures/user-code/ts-features-copy-')), 'definitions.ts');
  cpSync(FIXTURE, join(location, '..'), { recursive: true });
  linkedLocation = join(mkdtempSync(join(ROOT, 'test/fixtures/user-code/ts-features-copy-linked-')), 'definitions.ts');
  cpSync(join(ROOT, 'test/fixtures/user-code/ts-linked'), join(linkedLocation, '..'), { recursive: true });
});
after(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
  if (location) rmSync(join(location, '..'), { recursive: true, force: true });
  if (linkedLocation) rmSync(join(linkedLocation, '..'), { recursive: true, force: true });
});

function precompile(module = location): void {
  const r = spawnSync(process.execPath, ['dist/src/shared/ts-precompile.js', module], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, OUTPOST_TS_CACHE_DIR: cacheDir },
  });
  assert.equal(r.status, 0, r.stderr);
}

interface Ran {
  code: number | null;
  out: string;
  /** Every module URL the main thread resolved. */
  resolved: string[];
}

/** One compiled `execute-run` of `job`; `wrap` puts the command in a sandbox. */
function run(
  job: string,
  opts: { tsx?: boolean; loader?: string; module?: string; wrap?: (cmd: string[], spool: string) => string[] } = {},
): Ran {
  const dir = mkdtempSync(join(work, 'run-'));
  const spool = join(dir, 'spool');
  const log = join(dir, 'resolved.log');
  const hooks = join(dir, 'record.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }`,
  );
  const recorder = `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)});`;
  spawnSync('mkdir', [spool]);
  let cmd = [
    process.execPath,
    '--import',
    recorder,
    '--conditions=outpost-compiled',
    join(ROOT, 'dist/src/cli/main.js'),
  ];
  const module = opts.module ?? location;
  cmd.push('api', 'execute-run', '--run-id', 'run_ts', '--module', module, '--job', job, '--spool-dir', spool);
  if (opts.wrap) cmd = opts.wrap(cmd, spool);
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, OUTPOST_TS_CACHE_DIR: cacheDir, OUTPOST_TS_LOADER: opts.tsx ? 'tsx' : (opts.loader ?? '') },
  });
  let resolved: string[] = [];
  try {
    resolved = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } catch {
    // nothing resolved after the recorder: left empty
  }
  return { code: r.status, out: r.stdout + readFileSync(join(spool, 'stdout.log'), 'utf8'), resolved };
}

const line = (r: Ran, tag: string): string | undefined =>
  r.out
    .split('\n')
    .find((l) => l.startsWith(`${tag} `))
    ?.slice(tag.length + 1);
const usedTsx = (r: Ran): boolean => r.resolved.some((u) => u.includes('/node_modules/tsx/'));
/** Whether the location was imported from the linked cache (no hooks) rather than its source. */
const usedLinked = (r: Ran, module: string): boolean =>
  r.resolved.some((u) => u.startsWith(pathToFileURL(join(cacheDir, 'l-')).href)) &&
  !r.resolved.includes(pathToFileURL(module).href);

const bwrap = bubblewrapUsable();

/** Bubblewrap as the agent sets it up, with this test's cache directory bound read-only. */
function sandbox(): ReturnType<typeof bubblewrapIsolation> {
  const prev = process.env.OUTPOST_TS_CACHE_DIR;
  process.env.OUTPOST_TS_CACHE_DIR = cacheDir;
  try {
    return bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [] });
  } finally {
    if (prev === undefined) delete process.env.OUTPOST_TS_CACHE_DIR;
    else process.env.OUTPOST_TS_CACHE_DIR = prev;
  }
}

describe('compiled TypeScript loading', () => {
  test('the light loader means what tsx means, without loading tsx', () => {
    precompile();
    const viaTsx = run('report', { tsx: true });
    const light = run('report');
    assert.equal(viaTsx.code, 0, viaTsx.out);
    assert.equal(light.code, 0, light.out);
    assert.ok(usedTsx(viaTsx), 'OUTPOST_TS_LOADER=tsx loads tsx');
    assert.ok(!usedTsx(light), `the cached location loads without tsx: ${light.resolved.join(' ')}`);
    const report = line(light, 'REPORT');
    assert.ok(report, light.out);
    assert.equal(report, line(viaTsx, 'REPORT'));
    const r = JSON.parse(report) as Record<string, unknown>;
    assert.deepEqual(
      [r.here, r.helper, r.twice, r.lib, r.data, r.colour],
      [
        `${location.split('/').at(-2)}/definitions.ts`,
        '3 sides in helpers.ts',
        42,
        'lib-index',
        { answer: 42, name: 'data.json' },
        'blue',
      ],
    );
  });

  test("a thrown error's stack points at the .ts source line, as under tsx", () => {
    precompile();
    const src = readFileSync(location, 'utf8').split('\n');
    const row = src.findIndex((l) => l.includes("new Error('thrown on purpose')")) + 1;
    const col = src[row - 1]!.indexOf('new Error') + 1;
    for (const tsx of [true, false]) {
      const r = run('fail', { tsx });
      assert.notEqual(r.code, 0);
      const frames = JSON.parse(line(r, 'STACK') ?? '[]') as string[];
      assert.ok(frames[1]?.includes(`${location}:${row}:${col})`), `${tsx ? 'tsx' : 'light'}: ${frames[1]}`);
    }
  });

  test('a file changed since the cache was filled loads through tsx; a missing entry is transpiled', () => {
    precompile();
    const helpers = join(location, '..', 'helpers.ts');
    const before = readFileSync(helpers, 'utf8');
    try {
      writeFileSync(helpers, before.replace('sides in', 'edges in'));
      const stale = run('report');
      assert.equal(stale.code, 0, stale.out);
      assert.ok(usedTsx(stale), 'a stale manifest falls back to tsx');
      assert.match(line(stale, 'REPORT') ?? '', /3 edges in helpers\.ts/);
    } finally {
      writeFileSync(helpers, before);
    }
    for (const f of readdirSync(cacheDir)) if (!f.startsWith('m-')) rmSync(join(cacheDir, f));
    const missing = run('report');
    assert.equal(missing.code, 0, missing.out);
    assert.ok(!usedTsx(missing));
    assert.match(line(missing, 'REPORT') ?? '', /3 sides in helpers\.ts/);
  });

  test('outside the static graph: a dynamic .tsx, .cts and CommonJS-scope .ts, and require() of a .ts, load as under tsx', () => {
    precompile();
    const viaTsx = run('dynamic', { tsx: true });
    const light = run('dynamic');
    assert.equal(viaTsx.code, 0, viaTsx.out);
    assert.equal(light.code, 0, light.out);
    assert.ok(!usedTsx(light), `the light loader served them: ${light.resolved.join(' ')}`);
    const dynamic = line(light, 'DYNAMIC');
    assert.equal(dynamic, line(viaTsx, 'DYNAMIC'));
    assert.deepEqual(JSON.parse(dynamic ?? '{}'), {
      view: '{"x":"tsx"} string',
      old: 'cts require:function',
      legacy: '7 string dep',
      required: 'required',
    });
  });

  test('under bubblewrap the cache is read-only and still used', { skip: bwrap.ok ? false : bwrap.why }, () => {
    precompile();
    const isolation = sandbox();
    const r = run('write_cache', {
      wrap: (cmd, spool) => isolation.command(cmd, { cwd: ROOT, readable: [join(location, '..')], writable: [spool] }),
    });
    assert.equal(r.code, 0, r.out);
    assert.ok(!usedTsx(r), 'the sandboxed worker read the cache');
    assert.equal(line(r, 'WRITE'), 'EROFS');
    assert.ok(line(r, 'REPORT'));
  });
});

describe('the linked compile cache (no module hooks)', () => {
  test('a location whose whole static graph is cached is imported from linked entries and means what tsx means', () => {
    precompile(linkedLocation);
    const viaTsx = run('report', { tsx: true, module: linkedLocation });
    const linked = run('report', { module: linkedLocation });
    assert.equal(viaTsx.code, 0, viaTsx.out);
    assert.equal(linked.code, 0, linked.out);
    assert.ok(!usedTsx(linked));
    assert.ok(
      usedLinked(linked, linkedLocation),
      `imported from the linked cache: ${linked.resolved.filter((u) => !u.includes('/node_modules/')).join(' ')}`,
    );
    assert.ok(!linked.resolved.some((u) => u.endsWith('/ts-hooks.js')), 'no module hooks registered');
    // zod/v4 (65 files) is inlined: the worker loads one bundle from the cache, none of zod's files.
    assert.ok(linked.resolved.some((u) => u.startsWith(pathToFileURL(join(cacheDir, 'p-')).href)));
    assert.deepEqual(
      linked.resolved.filter((u) => u.includes('/node_modules/zod/')),
      [],
      'zod is not loaded from its files',
    );
    const report = line(linked, 'REPORT');
    assert.ok(report, linked.out);
    assert.equal(report, line(viaTsx, 'REPORT'));
    const r = JSON.parse(report) as Record<string, unknown>;
    assert.deepEqual(
      [r.here, r.filename, r.helper, r.twice, r.lib, r.data, r.colour, r.required],
      [
        `${linkedLocation.split('/').at(-2)}/definitions.ts`,
        'definitions.ts',
        '3 sides in helpers.ts',
        42,
        'lib-index',
        { answer: 42, name: 'data.json' },
        'blue',
        'required',
      ],
    );
  });

  test("a thrown error's stack points at the .ts source line from a linked entry", () => {
    precompile(linkedLocation);
    const src = readFileSync(linkedLocation, 'utf8').split('\n');
    const row = src.findIndex((l) => l.includes("new Error('thrown on purpose')")) + 1;
    const col = src[row - 1]!.indexOf('new Error') + 1;
    const r = run('fail', { module: linkedLocation });
    assert.notEqual(r.code, 0);
    assert.ok(usedLinked(r, linkedLocation));
    const frames = JSON.parse(line(r, 'STACK') ?? '[]') as string[];
    assert.ok(frames[1]?.includes(`${linkedLocation}:${row}:${col})`), frames[1]);
  });

  test('the hooks take over when asked to, when a package could resolve elsewhere now, or an entry is gone', () => {
    precompile(linkedLocation);
    const hooks = run('report', { loader: 'hooks', module: linkedLocation });
    assert.equal(hooks.code, 0, hooks.out);
    assert.ok(!usedLinked(hooks, linkedLocation) && !usedTsx(hooks), 'OUTPOST_TS_LOADER=hooks: the light hooks');
    // A node_modules/zod nearer the location than the one linked (the same package, linked in).
    const shadow = join(linkedLocation, '..', 'node_modules');
    mkdirSync(shadow);
    try {
      symlinkSync(join(ROOT, 'node_modules', 'zod'), join(shadow, 'zod'));
      const shadowed = run('report', { module: linkedLocation });
      assert.equal(shadowed.code, 0, shadowed.out);
      assert.ok(!usedLinked(shadowed, linkedLocation), 'a package that may resolve elsewhere: hooks');
    } finally {
      rmSync(shadow, { recursive: true, force: true });
    }
    assert.ok(usedLinked(run('report', { module: linkedLocation }), linkedLocation));
    for (const f of readdirSync(cacheDir)) if (f.startsWith('l-')) rmSync(join(cacheDir, f));
    const missing = run('report', { module: linkedLocation });
    assert.equal(missing.code, 0, missing.out);
    assert.ok(!usedLinked(missing, linkedLocation) && !usedTsx(missing));
  });

  test(
    'under bubblewrap the linked entries are read from the read-only cache',
    { skip: bwrap.ok ? false : bwrap.why },
    () => {
      precompile(linkedLocation);
      const isolation = sandbox();
      const readable = [join(linkedLocation, '..'), FIXTURE];
      const r = run('report', {
        module: linkedLocation,
        wrap: (cmd, spool) => isolation.command(cmd, { cwd: ROOT, readable, writable: [spool] }),
      });
      assert.equal(r.code, 0, r.out);
      assert.ok(usedLinked(r, linkedLocation), 'the sandboxed worker imported the linked entries');
      assert.match(line(r, 'REPORT') ?? '', /3 sides in helpers\.ts/);
    },
  );
});
