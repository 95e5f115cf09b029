// The compile cache's judgement of a location (ts-transpile.ts's graph walk, ts-cache.ts's
// manifest check): what the light loader cannot load as tsx would is left to tsx, and a
// manifest is used only while every file still has the text it was made from. A process test:
// esbuild runs as a service process.
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import { entryFile, usableManifest } from '../../../src/shared/ts-cache.js';
import { precompileLocation } from '../../../src/shared/ts-precompile.js';
import { locationGraph } from '../../../src/shared/ts-transpile.js';

const root = mkdtempSync(join(tmpdir(), 'outpost-ts-cache-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A project directory with these files (path → text). */
function project(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

const ESM = JSON.stringify({ type: 'module' });

describe('compile cache', () => {
  test('an ES module graph of .ts, .js and .json files is the light loader’s', async () => {
    const dir = project('esm', {
      'package.json': ESM,
      'main.ts': "import { a } from './a.js'; import j from './j.json'; export default [a, j];",
      'a.ts': "export { b as a } from './b.js';",
      'b.js': 'export const b = 1;',
      'j.json': '{}',
    });
    const g = await locationGraph(join(dir, 'main.ts'));
    assert.equal(g.unsupported, undefined);
    assert.deepEqual(g.files.map((f) => f.slice(dir.length + 1)).sort(), ['a.ts', 'b.js', 'j.json', 'main.ts']);
  });

  test('CommonJS TypeScript, JSX and tsconfig path aliases are left to tsx', async () => {
    const cjs = project('cjs', { 'package.json': '{}', 'main.ts': 'export default 1;' });
    assert.match((await locationGraph(join(cjs, 'main.ts'))).unsupported ?? '', /CommonJS TypeScript/);
    const jsx = project('jsx', { 'package.json': ESM, 'main.ts': "import './v.tsx';", 'v.tsx': 'export {};' });
    assert.match((await locationGraph(join(jsx, 'main.ts'))).unsupported ?? '', /\.tsx/);
    const alias = project('alias', {
      'package.json': ESM,
      'tsconfig.json': JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '@lib/*': ['lib/*'] } } }),
      'main.ts': "import { x } from '@lib/x'; export default x;",
      'lib/x.ts': 'export const x = 1;',
    });
    assert.match((await locationGraph(join(alias, 'main.ts'))).unsupported ?? '', /path alias/);
    const cache = mkdtempSync(join(root, 'cache-'));
    await precompileLocation(join(alias, 'main.ts'), cache);
    assert.equal(usableManifest(cache, join(alias, 'main.ts')), undefined);
  });

  test('a manifest is used only while its files are unchanged, and only from a private directory', async () => {
    const dir = project('edit', {
      'package.json': ESM,
      'main.ts': "export { a } from './a.js';",
      'a.ts': 'export const a = 1;',
    });
    const cache = mkdtempSync(join(root, 'cache-'));
    await precompileLocation(join(dir, 'main.ts'), cache);
    assert.ok(usableManifest(cache, join(dir, 'main.ts')));
    writeFileSync(join(dir, 'a.ts'), 'export const a = 2;');
    assert.equal(usableManifest(cache, join(dir, 'main.ts')), undefined);
    await precompileLocation(join(dir, 'main.ts'), cache);
    assert.ok(usableManifest(cache, join(dir, 'main.ts')));
    const shared = mkdtempSync(join(root, 'shared-'));
    await precompileLocation(join(dir, 'main.ts'), shared);
    chmodSync(shared, 0o777);
    assert.equal(usableManifest(shared, join(dir, 'main.ts')), undefined);
  });

  test("only files under the module's directory or the working directory are written to the cache", async () => {
    const dir = project('scoped', {
      'package.json': ESM,
      'app/main.ts': "export { s } from '../elsewhere/s.js';",
      'elsewhere/s.ts': 'export const s = 1;',
    });
    const cache = mkdtempSync(join(root, 'cache-'));
    const m = await precompileLocation(join(dir, 'app/main.ts'), cache);
    assert.equal(m.unsupported, undefined);
    const cached = (f: string): boolean =>
      existsSync(entryFile(cache, join(dir, f), readFileSync(join(dir, f), 'utf8'), m.esbuild));
    assert.ok(cached('app/main.ts'));
    assert.ok(!cached('elsewhere/s.ts'), 'a file outside the deployer’s directories is not cached');
    assert.ok(usableManifest(cache, join(dir, 'app/main.ts')));
  });

  test('entries no precompile rewrote for a week are pruned; current ones stay', async () => {
    const dir = project('prune', { 'package.json': ESM, 'main.ts': 'export const a = 1;' });
    const cache = mkdtempSync(join(root, 'cache-'));
    const old = join(cache, 'stale.mjs');
    writeFileSync(old, 'export {}');
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600_000);
    utimesSync(old, eightDaysAgo, eightDaysAgo);
    await precompileLocation(join(dir, 'main.ts'), cache);
    assert.ok(!existsSync(old));
    assert.ok(usableManifest(cache, join(dir, 'main.ts')));
    // The manifest, the file's entry and its linked entry.
    const left = readdirSync(cache);
    assert.equal(left.length, 3, left.join(' '));
    assert.deepEqual([left.some((f) => f.startsWith('m-')), left.some((f) => f.startsWith('l-'))], [true, true]);
  });

  test('a graph is linked for hook-free import unless what it loads is only known at run time', async () => {
    const dir = project('link', {
      'package.json': ESM,
      'main.ts': "import { a } from './a'; import j from './j.json'; export default [a, j, import.meta.url];",
      'a.ts': 'export const a = 1;',
      'j.json': '{}',
      'dyn.ts': "export default await import('./a.js');",
      'meta.ts': "export default import.meta.resolve('./a.js');",
    });
    const cache = mkdtempSync(join(root, 'cache-'));
    const linked = await precompileLocation(join(dir, 'main.ts'), cache);
    assert.equal(linked.unlinked, undefined);
    assert.equal(linked.linked?.files.length, 2);
    for (const [file, why] of [
      ['dyn.ts', /dynamic import/],
      ['meta.ts', /import\.meta/],
    ] as const) {
      const m = await precompileLocation(join(dir, file), cache);
      assert.equal(m.linked, undefined);
      assert.match(m.unlinked ?? '', why);
      assert.ok(usableManifest(cache, join(dir, file)), 'the hooks still take it from the cache');
    }
  });

  test('a rewritten specifier stays one string whatever quotes esbuild wrote it in', async () => {
    // esbuild writes a specifier with more " than ' in single quotes; the JSON file's URL keeps
    // a ' of its directory (file URLs do not escape it), which must not end that string.
    const dir = project("quo'te", {
      'package.json': ESM,
      'main.ts': `import j from './x".json'; export default j;`,
      'x".json': '{"v":"ok"}',
    });
    const cache = mkdtempSync(join(root, 'cache-'));
    const m = await precompileLocation(join(dir, 'main.ts'), cache);
    assert.equal(m.unlinked, undefined);
    const mod = (await import(pathToFileURL(join(cache, m.linked!.files[0]!)).href)) as { default: unknown };
    assert.deepEqual(mod.default, { v: 'ok' });
  });

  test('a linked graph is not used once a package it imports resolves elsewhere (a symlink moved)', async () => {
    // node_modules/dep is a symlink (pnpm, workspaces, npm link). Pointed at another copy with
    // the same package.json, Node resolves dep there; the linked entry still names the old one.
    const dir = project('relink', {
      'package.json': ESM,
      'main.ts': "import { v } from 'dep'; export default v;",
      'store/one/package.json': JSON.stringify({ name: 'dep', type: 'module', main: 'index.js' }),
      'store/one/index.js': 'export const v = 1;',
      'store/two/package.json': JSON.stringify({ name: 'dep', type: 'module', main: 'index.js' }),
      'store/two/index.js': 'export const v = 2;',
    });
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(join(dir, 'store/one'), join(dir, 'node_modules/dep'));
    const cache = mkdtempSync(join(root, 'cache-'));
    const m = await precompileLocation(join(dir, 'main.ts'), cache);
    assert.equal(m.unlinked, undefined);
    // As a compiled worker asks (its conditions, no hooks): the linked entry or nothing.
    const ask = (): string =>
      execFileSync(
        process.execPath,
        [
          '--conditions=outpost-compiled',
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `const { linkedEntryUrl } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../../src/shared/ts-cache.ts')).href)});` +
            `process.stdout.write(String(linkedEntryUrl(${JSON.stringify(cache)}, ${JSON.stringify(join(dir, 'main.ts'))})))`,
        ],
        { encoding: 'utf8' },
      );
    assert.match(ask(), /^file:/, 'the linked entry is used while dep stays where it was');
    rmSync(join(dir, 'node_modules/dep'));
    symlinkSync(join(dir, 'store/two'), join(dir, 'node_modules/dep'));
    assert.equal(ask(), 'undefined', 'dep now resolves to store/two: the hooks resolve it as Node does');
  });

  test('a linked graph imports as the hooks do: a package in TypeScript, a package JSON file', async () => {
    // A workspace package published as its .ts source (the hooks transpile it), and a package's
    // JSON imported without `with { type: 'json' }` (the hooks add it): Node alone takes neither.
    const dir = project('pkgts', {
      'package.json': ESM,
      'main.ts': "import { v } from 'tsdep'; import d from 'jsondep/d.json'; export default [v, d];",
      'node_modules/tsdep/package.json': JSON.stringify({ name: 'tsdep', type: 'module', exports: './index.ts' }),
      'node_modules/tsdep/index.ts': 'export const v: number = 1;',
      'node_modules/jsondep/package.json': JSON.stringify({ name: 'jsondep', exports: { './d.json': './d.json' } }),
      'node_modules/jsondep/d.json': '{"d":2}',
    });
    const cache = mkdtempSync(join(root, 'cache-'));
    const m = await precompileLocation(join(dir, 'main.ts'), cache);
    if (m.linked) {
      // Whatever is linked imports in a compiled worker's Node, with no hooks.
      const url = pathToFileURL(join(cache, m.linked.files[0]!)).href;
      const r = spawnSync(
        process.execPath,
        ['--conditions=outpost-compiled', '--input-type=module', '-e', `await import(${JSON.stringify(url)})`],
        { encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
    }
    assert.match(m.unlinked ?? '', /tsdep/, 'a package in TypeScript is left to the hooks');
    // Without it, the package JSON file is linked, and imports.
    writeFileSync(join(dir, 'main.ts'), "import d from 'jsondep/d.json'; export default d;");
    const m2 = await precompileLocation(join(dir, 'main.ts'), cache);
    assert.equal(m2.unlinked, undefined);
    const url = pathToFileURL(join(cache, m2.linked!.files[0]!)).href;
    const r = spawnSync(
      process.execPath,
      [
        '--conditions=outpost-compiled',
        '--input-type=module',
        '-e',
        `process.stdout.write(JSON.stringify((await import(${JSON.stringify(url)})).default))`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.stdout, '{"d":2}', r.stderr);
  });

  test('the linked graph starts at the location module when its path goes through a symlink', async () => {
    // A deploy layout: the module is configured as current/main.ts, current -> release-1, and the
    // agent works from the directory above. The graph holds real paths.
    const dir = project('releases', {
      'release-1/package.json': ESM,
      'release-1/a.ts': 'export const a = 1;',
      'release-1/main.ts': "import { a } from './a.js'; export default { a };",
    });
    symlinkSync(join(dir, 'release-1'), join(dir, 'current'));
    const cache = mkdtempSync(join(root, 'cache-'));
    const cwd = process.cwd();
    process.chdir(dir);
    let m;
    try {
      m = await precompileLocation(join(dir, 'current/main.ts'), cache);
    } finally {
      process.chdir(cwd);
    }
    assert.equal(m.unlinked, undefined);
    const mod = (await import(pathToFileURL(join(cache, m.linked!.files[0]!)).href)) as { default?: unknown };
    assert.deepEqual(mod.default, { a: 1 }, 'the first linked entry is the location module');
  });
});
