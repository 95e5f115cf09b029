// Transpiles a code location's TypeScript the way tsx does (esbuild: ESM, this Node as target,
// names kept, whitespace minified, an inline source map naming the file beside it so stack
// traces point at the .ts), and walks a location's static import graph to list its files and say
// whether the light loader (src/user-code/common/ts-hooks.ts) reads it as tsx would. esbuild is imported on first use
// only: a process whose files are all in the cache never loads it.
import { dirname, extname, resolve } from 'node:path';
import type * as EsbuildApi from 'esbuild';
import type { Metafile } from 'esbuild';
import { esmScope, LIGHT_EXTENSIONS, NATIVE_EXTENSIONS } from './ts-cache.js';

type Esbuild = typeof EsbuildApi;
let esbuild: Promise<Esbuild> | undefined;
function load(): Promise<Esbuild> {
  return (esbuild ??= import('esbuild'));
}

export async function esbuildVersion(): Promise<string> {
  return (await load()).version;
}

/**
 * `path`'s text transpiled. esbuild reads the tsconfig.json nearest the file (decorators, JSX
 * and class-field settings), as `tsc` would.
 */
export async function transpile(path: string, source: string): Promise<string> {
  const { build } = await load();
  const out = await build({
    entryPoints: [path],
    // The output is named beside the file, so the map's source is the file's own name.
    outdir: dirname(path),
    plugins: [{ name: 'text', setup: (b) => b.onLoad({ filter: /.*/ }, () => ({ contents: source, loader: 'ts' })) }],
    bundle: false,
    write: false,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node}`,
    sourcemap: 'inline',
    minifyWhitespace: true,
    keepNames: true,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

export interface LocationGraph {
  files: string[];
  unsupported?: string;
}

/** The local files `entry` imports statically (itself included), and what tsx alone can load. */
export async function locationGraph(entry: string): Promise<LocationGraph> {
  const { build } = await load();
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    logLevel: 'silent',
  });
  return judge(out.metafile);
}

function judge(meta: Metafile): LocationGraph {
  const files = Object.keys(meta.inputs).map((p) => resolve(p));
  for (const f of files) {
    const ext = extname(f);
    if (LIGHT_EXTENSIONS.has(ext)) {
      if (!esmScope(f)) return { files, unsupported: `${f} is CommonJS TypeScript` };
    } else if (!NATIVE_EXTENSIONS.has(ext)) return { files, unsupported: `${f}: ${ext || 'no extension'}` };
  }
  for (const [from, input] of Object.entries(meta.inputs)) {
    for (const imp of input.imports) {
      // A bare specifier that became a local file: a tsconfig `paths` alias, which Node's
      // resolver does not know.
      if (!imp.external && imp.original && !/^[./]/.test(imp.original) && !imp.path.includes('node_modules')) {
        return { files, unsupported: `${from} imports ${imp.original} through a path alias` };
      }
    }
  }
  return { files };
}
