// Transpiles a code location's TypeScript the way tsx does (esbuild: ESM, this Node as target,
// names kept, whitespace minified, an inline source map naming the file beside it so stack
// traces point at the .ts), and walks a location's static import graph to list its files and say
// whether the light loader (src/user-code/common/ts-hooks.ts) reads it as tsx would. esbuild is imported on first use
// only: a process whose files are all in the cache never loads it.
import { createRequire } from 'node:module';
import { dirname, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as EsbuildApi from 'esbuild';
import type { BuildOptions, Metafile } from 'esbuild';
import { esmScope, LIGHT_EXTENSIONS, NATIVE_EXTENSIONS } from './ts-cache.js';

type Esbuild = typeof EsbuildApi;
let esbuild: Promise<Esbuild> | undefined;
function load(): Promise<Esbuild> {
  return (esbuild ??= import('esbuild'));
}

export async function esbuildVersion(): Promise<string> {
  return (await load()).version;
}

const options = (path: string, format: 'esm' | 'cjs'): BuildOptions & { write: false } => ({
  entryPoints: [path],
  // The output is named beside the file, so the map's source is the file's own name.
  outdir: dirname(path),
  bundle: false,
  write: false,
  format,
  platform: 'node',
  target: `node${process.versions.node}`,
  sourcemap: 'inline',
  minifyWhitespace: true,
  keepNames: true,
  logLevel: 'silent',
});

/**
 * `path`'s text transpiled to `format` (a .tsx file as TSX). esbuild reads the tsconfig.json
 * nearest the file (decorators, JSX and class-field settings), as `tsc` would.
 */
export async function transpile(path: string, source: string, format: 'esm' | 'cjs' = 'esm'): Promise<string> {
  const { build } = await load();
  const loader = extname(path) === '.tsx' ? 'tsx' : 'ts';
  const out = await build({
    ...options(path, format),
    plugins: [{ name: 'text', setup: (b) => b.onLoad({ filter: /.*/ }, () => ({ contents: source, loader })) }],
  });
  return out.outputFiles[0]!.text;
}

/**
 * `path`'s text transpiled as `transpile` does, for the linked cache (ts-link.ts): the map apart
 * (the linker edits the code and shifts the map), import.meta.url, .filename and .dirname replaced
 * by the source's, and the map naming the source by absolute URL (the code will sit in the cache).
 */
export async function transpileForLink(path: string, source: string): Promise<{ code: string; map: string }> {
  const { build } = await load();
  const out = await build({
    ...options(path, 'esm'),
    sourcemap: 'external',
    sourceRoot: `${pathToFileURL(dirname(path)).href}/`,
    define: {
      'import.meta.url': JSON.stringify(pathToFileURL(path).href),
      'import.meta.filename': JSON.stringify(path),
      'import.meta.dirname': JSON.stringify(dirname(path)),
    },
    plugins: [{ name: 'text', setup: (b) => b.onLoad({ filter: /.*/ }, () => ({ contents: source, loader: 'ts' })) }],
  });
  const map = out.outputFiles.find((f) => f.path.endsWith('.map'))!.text;
  const code = out.outputFiles.find((f) => !f.path.endsWith('.map'))!.text;
  return { code, map };
}

/**
 * The file at `path` transpiled to CommonJS, synchronously: for require() (ts-require.ts), which
 * cannot wait. esbuild is required here, on the first such call only.
 */
export function transpileSync(path: string): string {
  const { buildSync } = createRequire(import.meta.url)('esbuild') as Esbuild;
  return buildSync(options(path, 'cjs')).outputFiles[0]!.text;
}

/** One import of a graph file: its specifier, and the local file it names (none for a package). */
export interface GraphImport {
  specifier: string;
  kind: string;
  file?: string;
}

export interface LocationGraph {
  files: string[];
  unsupported?: string;
  /** Each file's static imports (absolute path → imports), for linking (ts-link.ts). */
  imports: Record<string, GraphImport[]>;
}

/** The local files `entry` imports statically (itself included), and what tsx alone can load. */
export async function locationGraph(entry: string): Promise<LocationGraph> {
  const { build } = await load();
  // The metafile's paths are relative to esbuild's working directory: name it, and resolve
  // them against the same one (esbuild's service may have started in another directory).
  const cwd = process.cwd();
  const out = await build({
    absWorkingDir: cwd,
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    logLevel: 'silent',
  });
  return judge(out.metafile, cwd);
}

function judge(meta: Metafile, cwd: string): LocationGraph {
  const files = Object.keys(meta.inputs).map((p) => resolve(cwd, p));
  const imports: Record<string, GraphImport[]> = {};
  for (const [from, input] of Object.entries(meta.inputs)) {
    imports[resolve(cwd, from)] = input.imports.map((i) => ({
      specifier: i.original ?? i.path,
      kind: i.kind,
      ...(i.external ? {} : { file: resolve(cwd, i.path) }),
    }));
  }
  for (const f of files) {
    const ext = extname(f);
    if (LIGHT_EXTENSIONS.has(ext)) {
      if (!esmScope(f)) return { files, imports, unsupported: `${f} is CommonJS TypeScript` };
    } else if (!NATIVE_EXTENSIONS.has(ext)) return { files, imports, unsupported: `${f}: ${ext || 'no extension'}` };
  }
  for (const [from, input] of Object.entries(meta.inputs)) {
    for (const imp of input.imports) {
      // A bare specifier that became a local file: a tsconfig `paths` alias, which Node's
      // resolver does not know.
      if (!imp.external && imp.original && !/^[./]/.test(imp.original) && !imp.path.includes('node_modules')) {
        return { files, imports, unsupported: `${from} imports ${imp.original} through a path alias` };
      }
    }
  }
  return { files, imports };
}
