// `npm run build`: compiles src/, workflows/ and activities/ to dist/ (one .js + source map per
// .ts, same layout under dist/), copies the files they load at run time (.graphql schemas, web
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
    b.onLoad({ filter: /\.ts$/ }, (a) => ({
      contents: rewriteUrls(readFileSync(a.path, 'utf8'), a.path),
      loader: 'ts',
    }));
  },
};

// Run workers and standbys start once per run: their entry (src/cli/user-code-main.ts) is
// written as one file holding the modules it loads, in place of its per-file output, so a boot
// resolves, reads and compiles one module instead of ~25 (~6 ms of CPU of ~110). Left out, and
// imported from their own compiled files: the SDK and the error registry (the user's
// `outpost/sdk` import must reach the same module instances: one OutpostError, one SDK) and the
// full CLI (main.ts: code servers and any other argv). Packages stay imports. The bundle sits
// where the per-file entry was; a module that reads import.meta is bundled only from a folder
// at the entry's depth, where its relative URLs mean the same from the bundle's URL.
const USER_CODE_ENTRY = join(ROOT, 'src', 'cli', 'user-code-main.ts');
const USER_CODE_SHARED = [
  join(ROOT, 'src', 'user-code', 'sdk') + sep,
  join(ROOT, 'src', 'shared', 'errors.ts'),
  join(ROOT, 'src', 'cli', 'main.ts'),
];
async function bundleUserCodeEntry() {
  const entryDir = dirname(USER_CODE_ENTRY);
  const depth = (f) => relative(ROOT, dirname(f)).split(sep).length;
  await build({
    entryPoints: [USER_CODE_ENTRY],
    outfile: join(OUT, relative(ROOT, USER_CODE_ENTRY)).replace(/\.ts$/, '.js'),
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    allowOverwrite: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'outpost-user-code-shared',
        setup(b) {
          b.onResolve({ filter: /^\.\.?\// }, (a) => {
            const target = resolve(a.resolveDir, a.path).replace(/\.js$/, '.ts');
            if (!USER_CODE_SHARED.some((s) => (s.endsWith(sep) ? target.startsWith(s) : target === s)))
              return undefined;
            const spec = relative(entryDir, target).replaceAll(sep, '/').replace(/\.ts$/, '.js');
            return { path: spec.startsWith('.') ? spec : `./${spec}`, external: true };
          });
          b.onLoad({ filter: /\.ts$/ }, (a) => {
            const source = readFileSync(a.path, 'utf8');
            if (/import\.meta\b/.test(source) && depth(a.path) !== depth(USER_CODE_ENTRY)) {
              throw new Error(
                `${relative(ROOT, a.path)} reads import.meta and is not at the depth of ${relative(ROOT, USER_CODE_ENTRY)}: its relative URLs would change meaning in the bundle`,
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
await bundleUserCodeEntry();
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
