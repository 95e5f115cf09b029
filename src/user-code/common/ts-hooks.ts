// The light TypeScript loader (Node module hooks, registered by cli-command.ts in compiled
// user-code processes whose location the compile cache covers, ts-cache.ts). Each .ts/.mts file
// loads under its own URL (import.meta.url, relative imports and node_modules resolution are
// Node's own) with the transpiled text from the cache, or transpiled here when the cache lacks
// it. Resolution adds what tsx adds for TypeScript: `./x.js` finds `./x.ts`, `./x` finds
// `./x.ts` or `./x/index.ts`, and a JSON import needs no `with { type: 'json' }`. Against tsx's
// loader this saves tsx and esbuild loading in every process (~130 ms of CPU per boot).
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadHook, ResolveHook } from 'node:module';
import { entryFile, LIGHT_EXTENSIONS } from '../../shared/ts-cache.js';

interface HooksData {
  cacheDir: string;
  esbuildVersion: string;
}

let data: HooksData | undefined;
export function initialize(d: HooksData): void {
  data = d;
}

const TS_FOR_JS: Record<string, string[]> = { '.js': ['.ts'], '.mjs': ['.mts'], '': ['.ts', '.mts', '/index.ts'] };

function isTs(url: string | undefined): boolean {
  return !!url?.startsWith('file:') && LIGHT_EXTENSIONS.has(extname(new URL(url).pathname));
}

export const resolve: ResolveHook = async (specifier, context, next) => {
  try {
    return await next(specifier, context);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const relative = /^\.{1,2}\//.test(specifier) || specifier.startsWith('/') || specifier.startsWith('file:');
    if (
      !relative ||
      !isTs(context.parentURL) ||
      (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_UNSUPPORTED_DIR_IMPORT')
    ) {
      throw err;
    }
    const ext = extname(specifier);
    const base = ext in TS_FOR_JS && ext !== '' ? specifier.slice(0, -ext.length) : specifier;
    for (const alt of TS_FOR_JS[ext in TS_FOR_JS ? ext : '']!) {
      const url = new URL(base + alt, context.parentURL);
      if (existsSync(fileURLToPath(url))) return next(url.href, context);
    }
    throw err;
  }
};

export const load: LoadHook = async (url, context, next) => {
  if (url.startsWith('file:') && url.endsWith('.json') && !context.importAttributes?.type) {
    return next(url, { ...context, importAttributes: { ...context.importAttributes, type: 'json' } });
  }
  if (!isTs(url)) return next(url, context);
  const path = fileURLToPath(url);
  const source = readFileSync(path, 'utf8');
  let code: string | undefined;
  if (data) {
    try {
      code = readFileSync(entryFile(data.cacheDir, path, source, data.esbuildVersion), 'utf8');
    } catch {
      code = undefined;
    }
  }
  code ??= await (await import('../../shared/ts-transpile.js')).transpile(path, source);
  return { format: 'module', source: code, shortCircuit: true };
};
