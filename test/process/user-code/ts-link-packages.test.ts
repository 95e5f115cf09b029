// Packages inlined into a location's linked graph (ts-link-packages.ts) for run workers and
// standbys: what is inlined loads from the cache's bundle, what is not stays its own file and
// means the same, and an inlined file changed in place (patch-package) sends the worker back to
// the package's own files. Each linked graph is imported by a child Node as a compiled worker
// imports it (its conditions, no hooks). A process test: esbuild runs as a service process.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import { precompileLocation } from '../../../src/shared/ts-precompile.js';

const root = mkdtempSync(join(tmpdir(), 'outpost-ts-link-packages-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

function project(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

const ESM = JSON.stringify({ type: 'module' });
const pkg = (name: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ name, type: 'module', exports: { '.': './index.js', './sub': './sub.js' }, ...extra });
const TS_CACHE = pathToFileURL(join(import.meta.dirname, '../../../src/shared/ts-cache.ts')).href;

/** The URL linkedEntryUrl gives a compiled worker (inlined) or a code server, as that process asks. */
function entryUrl(cache: string, entry: string, inlined: boolean): string {
  return execFileSync(
    process.execPath,
    [
      '--conditions=outpost-compiled',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { linkedEntryUrl } = await import(${JSON.stringify(TS_CACHE)});` +
        `process.stdout.write(String(linkedEntryUrl(${JSON.stringify(cache)}, ${JSON.stringify(entry)}, { inlined: ${inlined} })))`,
    ],
    { encoding: 'utf8' },
  );
}

/** The default export of `url`, imported by a compiled worker's Node with no hooks, as JSON. */
function importDefault(url: string): unknown {
  const out = execFileSync(
    process.execPath,
    [
      '--conditions=outpost-compiled',
      '--input-type=module',
      '-e',
      `process.stdout.write(JSON.stringify((await import(${JSON.stringify(url)})).default))`,
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out);
}

describe('packages inlined in the linked graph', () => {
  test('a multi-file ES module package is loaded from one bundle in the cache, for workers only', async () => {
    // `where()` reports the file its frame runs in: a package file when loaded by Node, the
    // cache's bundle when inlined.
    const dir = project('inline', {
      'package.json': ESM,
      'main.ts':
        "import { where, n } from 'dep'; import { twice } from 'dep/sub'; export default { at: where(), n, twice: twice(n) };",
      'node_modules/dep/package.json': pkg('dep'),
      'node_modules/dep/index.js': "export { where } from './lib/where.js'; export const n = 21;",
      'node_modules/dep/lib/where.js': "export function where() { return new Error().stack.split('\\n')[1].trim(); }",
      'node_modules/dep/sub.js': "import { n } from './index.js'; export const twice = (x) => x * 2 + n - n;",
    });
    const cache = mkdtempSync(join(root, 'cache-'));
    const m = await precompileLocation(join(dir, 'main.ts'), cache);
    assert.equal(m.unlinked, undefined);
    assert.deepEqual(m.linked?.inlined?.packages, [join(dir, 'node_modules/dep')]);
    const worker = importDefault(entryUrl(cache, join(dir, 'main.ts'), true)) as {
      at: string;
      n: number;
      twice: number;
    };
    assert.match(worker.at, new RegExp(`${cache}/p-`), 'the worker runs the package from the bundle');
    assert.deepEqual([worker.n, worker.twice], [21, 42]);
    const server = importDefault(entryUrl(cache, join(dir, 'main.ts'), false)) as { at: string };
    assert.match(server.at, /node_modules\/dep\/lib\/where\.js/, 'a code server loads the package as Node does');
  });

  test('a file of an inlined package changed in place sends workers back to the package’s files', async () => {
    const dir = project('patched', {
      'package.json': ESM,
      'main.ts': "import { v } from 'dep'; export default v;",
      'node_modules/dep/package.json': pkg('dep'),
      'node_modules/dep/index.js': "export { v } from './v.js';",
      'node_modules/dep/v.js': "export const v = 'old';",
      'node_modules/dep/sub.js': 'export {};',
    });
    const cache = mkdtempSync(join(root, 'cache-'));
    await precompileLocation(join(dir, 'main.ts'), cache);
    const before = entryUrl(cache, join(dir, 'main.ts'), true);
    assert.equal(importDefault(before), 'old');
    // patch-package: same size, package.json untouched.
    writeFileSync(join(dir, 'node_modules/dep/v.js'), "export const v = 'new';");
    const after = entryUrl(cache, join(dir, 'main.ts'), true);
    assert.notEqual(after, before, 'the inlined graph is not used once a file in it changed');
    assert.equal(importDefault(after), 'new');
  });

  test('a package that needs its own file stays external and works, and so does one it imports', async () => {
    // meta reads import.meta.url; cjsname tests __dirname; cjs is CommonJS. shared is plain ESM
    // but meta imports it too: inlined, it would be a second instance beside meta's.
    const dir = project('unsafe', {
      'package.json': ESM,
      'main.ts': [
        "import { url, sharedObj } from 'meta';",
        "import { obj } from 'shared';",
        "import { dir } from 'cjsname';",
        "import cjs from 'cjs';",
        "import { n } from 'plain';",
        'export default { url, same: obj === sharedObj, dir, cjs, n };',
      ].join('\n'),
      'node_modules/meta/package.json': pkg('meta'),
      'node_modules/meta/index.js': "export { obj as sharedObj } from 'shared'; export const url = import.meta.url;",
      'node_modules/shared/package.json': pkg('shared'),
      'node_modules/shared/index.js': 'export const obj = {};',
      'node_modules/cjsname/package.json': pkg('cjsname'),
      'node_modules/cjsname/index.js': "export const dir = typeof __dirname === 'undefined' ? 'esm' : __dirname;",
      'node_modules/cjs/package.json': JSON.stringify({ name: 'cjs', main: 'index.js' }),
      'node_modules/cjs/index.js': "module.exports = 'commonjs';",
      'node_modules/plain/package.json': pkg('plain'),
      'node_modules/plain/index.js': 'export const n = 1;',
    });
    const cache = mkdtempSync(join(root, 'cache-'));
    const m = await precompileLocation(join(dir, 'main.ts'), cache);
    assert.deepEqual(m.linked?.inlined?.packages, [join(dir, 'node_modules/plain')]);
    const external = JSON.parse(m.linked?.notInlined ?? '{}') as Record<string, string>;
    assert.match(external[join(dir, 'node_modules/meta')] ?? '', /import\.meta/);
    assert.match(external[join(dir, 'node_modules/shared')] ?? '', /stays external/);
    assert.match(external[join(dir, 'node_modules/cjsname')] ?? '', /__dirname/);
    assert.match(external[join(dir, 'node_modules/cjs')] ?? '', /not an ES module/);
    const url = entryUrl(cache, join(dir, 'main.ts'), true);
    assert.equal(url, pathToFileURL(join(cache, m.linked.inlined.files[0]!)).href);
    assert.deepEqual(importDefault(url), {
      url: pathToFileURL(join(dir, 'node_modules/meta/index.js')).href,
      same: true,
      dir: 'esm',
      cjs: 'commonjs',
      n: 1,
    });
    assert.ok(!readFileSync(join(cache, m.linked.inlined.files[0]!), 'utf8').includes('node_modules/plain'));
  });
});
