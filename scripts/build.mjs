// `npm run build`: compiles src/, workflows/ and activities/ to dist/ (one .js + source map per
// .ts, same layout under dist/; the user-code entry and the SDK also bundled, see BUNDLES), copies the files they load at run time (.graphql schemas, web
// assets, the heartbeat thread), prebuilds the Temporal workflow bundle production workers load
// (dist/workflow-bundle.js), and writes the freshness stamp last (bin/build-state.mjs).
// Plain Node + esbuild (already installed with tsx): no tsx, so it runs before anything else.
//   node scripts/build.mjs [--out <dir>] [--no-workflow-bundle]
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { COMPILED_DIRS, STAMP } from '../bin/build-state.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const OUT = outIdx >= 0 ? resolve(args[outIdx + 1]) : join(ROOT, 'dist');
const withBundle = !args.includes('--no-workflow-bundle');

/** Every file under a directory, recursively (python caches skipped). */
function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === '__pycache__' || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/**
 * `new URL('<relative>', import.meta.url)` literals name files beside the module. Once the
 * module sits one level deeper (dist/src/… instead of src/…): a target inside a compiled tree
 * maps to its compiled twin (.ts → .js), a target outside (python/, the install root whose
 * node_modules the sandbox protects) keeps pointing at the install, so it gains one `../`.
 */
function rewriteUrls(source, file) {
  return source.replace(/new URL\((['"])(\.{1,2}\/[^'"]*)\1,\s*import\.meta\.url\)/g, (_m, q, rel) => {
    const target = resolve(dirname(file), rel);
    const top = relative(ROOT, target).split(sep)[0];
    if (COMPILED_DIRS.includes(top)) {
      return `new URL(${q}${rel.replace(/\.ts$/, '.js')}${q}, import.meta.url)`;
    }
    const outFile = join(OUT, relative(ROOT, file));
    const moved = relative(dirname(outFile), target).replaceAll(sep, '/') + (rel.endsWith('/') ? '/' : '');
    return `new URL(${q}${moved}${q}, import.meta.url)`;
  });
}

/** Each module's `new URL(..., import.meta.url)` literals rewritten for its place under OUT. */
const urlsPlugin = {
  name: 'outpost-urls',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (a) => {
      const source = readFileSync(a.path, 'utf8');
      // Not rewritten (a path computed at run time), so compiled it would name a place under OUT.
      if (/(?<!['"])import\.meta\.(dirname|filename)\b/.test(source)) {
        return {
          errors: [
            {
              text: `${relative(ROOT, a.path)} reads import.meta.dirname or .filename: use new URL('<relative>', import.meta.url), which the build rewrites`,
            },
          ],
        };
      }
      return { contents: rewriteUrls(source, a.path), loader: 'ts' };
    });
  },
};

// Run workers and standbys start once per run, and each boot resolves, reads and compiles every
// module it loads (~0.3 ms of CPU each here). So two entries they load are written as one file
// each, holding the modules under them, in place of their per-file output:
// - their entry, src/cli/user-code-main.ts (~25 modules of ours). Left out, imported from their
//   own compiled files: the SDK and the error registry (the location's `outpost/sdk` import must
//   reach the same instances: one SDK, one OutpostError) and the full CLI (main.ts: code servers
//   and any other argv);
// - the SDK, src/user-code/sdk/index.ts (the location's `outpost/sdk`: ~8 modules), the error
//   registry left out. Its other files stay compiled one by one for the few modules of ours
//   that import them directly (they hold no state: two copies mean the same).
// A third holds a package: src/cli/commander.ts, the option parser of every CLI start
// (commander's CommonJS files, each resolved, read and scanned for its exports on the way into
// ESM, cost a client command ~10 % of its CPU). CommonJS inside an ES module calls `require`
// for Node's built-ins: that bundle makes one for itself.
// Other packages stay imports. A bundle sits where its per-file entry was; a module that reads
// import.meta is bundled only from a folder at its entry's depth and only with `../` URLs, which
// then mean the same from the bundle's URL (the build refuses anything else).
const src = (...p) => join(ROOT, 'src', ...p);
const BUNDLES = [
  {
    entry: src('cli', 'user-code-main.ts'),
    shared: [src('user-code', 'sdk') + sep, src('shared', 'errors.ts'), src('cli', 'main.ts')],
  },
  { entry: src('user-code', 'sdk', 'index.ts'), shared: [src('shared', 'errors.ts')] },
  { entry: src('cli', 'commander.ts'), shared: [], packages: ['commander'] },
];
const OWN_REQUIRE =
  "import { createRequire as __outpostRequire } from 'node:module';\nconst require = __outpostRequire(import.meta.url);";
async function bundleEntry({ entry, shared, packages = [] }) {
  const depth = (f) => relative(ROOT, dirname(f)).split(sep).length;
  const isShared = (target) => shared.some((s) => (s.endsWith(sep) ? target.startsWith(s) : target === s));
  await build({
    entryPoints: [entry],
    outfile: join(OUT, relative(ROOT, entry)).replace(/\.ts$/, '.js'),
    bundle: true,
    ...(packages.length ? { banner: { js: OWN_REQUIRE } } : { packages: 'external' }),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    allowOverwrite: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'outpost-bundle-shared',
        setup(b) {
          // Packages stay imports, except those the entry inlines (and their own files).
          if (packages.length) {
            b.onResolve({ filter: /^[^./]/ }, (a) => {
              const name = a.path.startsWith('@') ? a.path.split('/').slice(0, 2).join('/') : a.path.split('/')[0];
              const inlined =
                packages.includes(name) || packages.some((p) => a.importer.includes(`/node_modules/${p}/`));
              return inlined && !a.path.startsWith('node:') ? undefined : { path: a.path, external: true };
            });
          }
          b.onResolve({ filter: /^\.\.?\// }, (a) => {
            const target = resolve(a.resolveDir, a.path).replace(/\.js$/, '.ts');
            if (target === entry || !isShared(target)) return undefined;
            const spec = relative(dirname(entry), target).replaceAll(sep, '/').replace(/\.ts$/, '.js');
            return { path: spec.startsWith('.') ? spec : `./${spec}`, external: true };
          });
          b.onLoad({ filter: /\.ts$/ }, (a) => {
            const source = readFileSync(a.path, 'utf8');
            const meta = /import\.meta\b/.test(source);
            if (meta && (depth(a.path) !== depth(entry) || /['"]\.\/[^'"]*['"]\s*,\s*import\.meta/.test(source))) {
              throw new Error(
                `${relative(ROOT, a.path)} reads import.meta: bundled into ${relative(ROOT, entry)}, its relative URLs could change meaning`,
              );
            }
            return { contents: rewriteUrls(source, a.path), loader: 'ts' };
          });
        },
      },
    ],
  });
}

const started = Date.now();
rmSync(OUT, { recursive: true, force: true });
const sources = COMPILED_DIRS.flatMap((d) => walk(join(ROOT, d)));
const tsFiles = sources.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
const assets = sources.filter((f) => !f.endsWith('.ts') && !f.endsWith('.md'));

await build({
  entryPoints: tsFiles,
  outdir: OUT,
  outbase: ROOT,
  bundle: false,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [urlsPlugin],
});
for (const b of BUNDLES) await bundleEntry(b);
for (const f of assets) {
  const to = join(OUT, relative(ROOT, f));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(f, to);
}
// Compiled modules are ESM like their sources: the nearest package.json says so.
writeFileSync(join(OUT, 'package.json'), JSON.stringify({ type: 'module' }) + '\n');

if (withBundle) {
  // Loaded lazily: webpack is only needed here, never by the CLI.
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(ROOT, 'workflows', 'index.ts'),
    logger: {
      trace() {},
      debug() {},
      info() {},
      warn: (m) => console.error(m),
      error: (m) => console.error(m),
      log() {},
    },
  });
  writeFileSync(join(OUT, 'workflow-bundle.js'), code);
}
writeFileSync(join(OUT, STAMP), new Date().toISOString() + '\n');
console.error(
  `[outpost] built ${tsFiles.length} modules into ${relative(process.cwd(), OUT) || '.'} in ${Date.now() - started} ms`,
);
