// Third-party packages inlined into a linked graph (ts-link.ts) for run workers and standbys:
// Node's ESM loader costs each module it loads a resolve, a read and a link (~0.7 ms of CPU
// here), and a location importing `zod/v4` loads 65 of zod's files at every boot. The packages
// the location imports are bundled by esbuild into one module per imported file (with shared
// chunks when there are several), each import resolved as Node resolved it.
//
// Only what means the same bundled is inlined, a package whole or not at all: plain ES module
// .js/.mjs files with no import.meta, no dynamic import, no direct eval, no CommonJS name
// (require, module.exports, __dirname, __filename) and no import of anything but ES modules and
// builtins. Anything else stays an import of its own file, as are packages an external one
// imports (one instance each), the location's own package and Outpost's (one SDK). Each inlined
// file's size, mtime and ctime are recorded: a worker uses the inlined graph only while all are
// unchanged (ts-cache.ts linkedEntryUrl), so a patch-package edit falls back to Node's loading.
import { readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, extname, join, parse as parsePath, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';

/** Node's resolution of (specifier, importer URL) pairs; null where it fails. */
export type Resolver = (pairs: Array<[string, string]>) => Promise<Array<string | null>>;

/** What inlining wrote and what a worker checks before using it. */
export interface InlinedPackages {
  /** Resolved package file URL the location imports → the cache file (name) standing for it. */
  entries: Map<string, string>;
  /** Cache file name → text (the bundles and their chunks). */
  writes: Array<[string, string]>;
  /** Every inlined file, and each inlined package's package.json → [size, mtimeMs, ctimeMs]. */
  stats: Record<string, [number, number, number]>;
  /** Package directories inlined. */
  packages: string[];
  /** Why each package that was looked at stays external. */
  external: Record<string, string>;
  /** Bare imports made from inlined files: (specifier, importer URL), for the shadowing check. */
  bare: Array<[string, string]>;
}

/** A package's directory: the nearest one up whose package.json has a name. */
function packageDirOf(file: string, memo: Map<string, string | null>): string | null {
  const seen: string[] = [];
  let found: string | null = null;
  for (let dir = dirname(file); dir !== parsePath(dir).root; dir = dirname(dir)) {
    const hit = memo.get(dir);
    if (hit !== undefined) {
      found = hit;
      break;
    }
    seen.push(dir);
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name) {
        found = dir;
        break;
      }
    } catch {
      // no package.json here (or not JSON): look further up
    }
  }
  for (const d of seen) memo.set(d, found);
  return found;
}

/** Whether Node loads `file` as an ES module: .mjs, or .js in a "type": "module" scope. */
function isEsm(file: string): boolean {
  if (extname(file) === '.mjs') return true;
  if (extname(file) !== '.js') return false;
  for (let dir = dirname(file); dir !== parsePath(dir).root; dir = dirname(dir)) {
    try {
      return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string }).type === 'module';
    } catch {
      // none here
    }
  }
  return false;
}

/** CommonJS names an ES module can only mean something by outside its own file. */
const COMMONJS_NAME = /\b(?:require|__dirname|__filename)\b|\bmodule\.exports\b|\beval\s*\(/;

interface Scanned {
  file: string;
  pkg: string;
  /** Why the file cannot be bundled, if it cannot. */
  unsafe?: string;
  /** (specifier, resolved URL or builtin name) per static import. */
  imports: Array<[string, string]>;
  stat?: [number, number, number];
}

function statOf(file: string): [number, number, number] {
  const st = statSync(file);
  return [st.size, st.mtimeMs, st.ctimeMs];
}

/**
 * The location's package imports (`roots`: resolved file URLs) inlined where that means the same.
 * `never(dir)` names package directories that stay external whatever they hold (the location's
 * own, Outpost's). Returns undefined when nothing can be inlined.
 */
export async function inlinePackages(
  roots: string[],
  resolve: Resolver,
  never: (pkgDir: string) => boolean,
): Promise<InlinedPackages | undefined> {
  const { init, parse } = await import('es-module-lexer');
  await init;
  const memo = new Map<string, string | null>();
  const scanned = new Map<string, Scanned>();
  const external: Record<string, string> = {};
  // Breadth first, one resolver process per level.
  let level = [...new Set(roots.map((u) => fileURLToPath(u)))];
  while (level.length) {
    const pending: Array<{ s: Scanned; specs: string[] }> = [];
    for (const file of level) {
      if (scanned.has(file)) continue;
      const pkg = packageDirOf(file, memo);
      const s: Scanned = { file, pkg: pkg ?? file, imports: [] };
      scanned.set(file, s);
      if (pkg === null) s.unsafe = 'not in a package';
      else if (never(pkg)) s.unsafe = 'kept external';
      else if (!isEsm(file)) s.unsafe = `${extname(file) === '.node' ? 'a native addon' : 'not an ES module'}`;
      // An ES module that stays external is walked too: what it imports must stay external.
      if (s.unsafe && s.unsafe !== 'kept external') continue;
      // Before the read: a change after it shows in the stat a worker compares.
      s.stat = statOf(file);
      const text = readFileSync(file, 'utf8');
      const specs: string[] = [];
      try {
        const [imports] = parse(text, file);
        for (const i of imports) {
          if (i.d === -2) s.unsafe ??= 'import.meta';
          else if (i.d !== -1) s.unsafe ??= 'a dynamic import';
          else if (i.a >= 0) s.unsafe ??= 'an import with attributes';
          if (i.n !== undefined && i.d !== -2) specs.push(i.n);
        }
      } catch {
        s.unsafe ??= 'not parsable as an ES module';
      }
      if (!s.unsafe && COMMONJS_NAME.test(text)) s.unsafe = `uses ${COMMONJS_NAME.exec(text)![0]}`;
      pending.push({ s, specs: [...new Set(specs)] });
    }
    const pairs = pending.flatMap(({ s, specs }) =>
      specs.map((n): [string, string] => [n, pathToFileURL(s.file).href]),
    );
    const resolved = await resolve(pairs);
    let k = 0;
    const next: string[] = [];
    for (const { s, specs } of pending) {
      for (const n of specs) {
        const url = resolved[k++];
        if (url && isBuiltin(url)) s.imports.push([n, url]);
        else if (url?.startsWith('file:')) {
          s.imports.push([n, url]);
          next.push(fileURLToPath(url));
        } else s.unsafe ??= `${n} does not resolve to a file`;
      }
    }
    level = next;
  }
  // A package is inlined whole or not at all; and one an external file imports stays external
  // too (else it would be loaded twice: two instances of its state).
  const bad = new Map<string, string>();
  for (const s of scanned.values()) if (s.unsafe && !bad.has(s.pkg)) bad.set(s.pkg, `${s.file}: ${s.unsafe}`);
  for (let changed = true; changed;) {
    changed = false;
    for (const s of scanned.values()) {
      if (!bad.has(s.pkg)) continue;
      for (const [, url] of s.imports) {
        const t = url.startsWith('file:') ? scanned.get(fileURLToPath(url)) : undefined;
        if (t && !bad.has(t.pkg)) {
          bad.set(t.pkg, `imported by ${s.file}, which stays external`);
          changed = true;
        }
      }
    }
  }
  // Reported: the packages the location imports that stay external.
  const imported = new Set(roots.map((u) => scanned.get(fileURLToPath(u))?.pkg));
  for (const [pkg, why] of bad) if (imported.has(pkg)) external[pkg] = why;
  const inlined = (file: string): boolean => {
    const s = scanned.get(file);
    return s !== undefined && !bad.has(s.pkg);
  };
  const entryFiles = [...new Set(roots.map((u) => fileURLToPath(u)))].filter(inlined);
  if (!entryFiles.length) return undefined;

  const byImporter = new Map<string, Map<string, string>>();
  for (const s of scanned.values()) byImporter.set(s.file, new Map(s.imports));
  const stats: Record<string, [number, number, number]> = {};
  const bare: Array<[string, string]> = [];
  const packages = new Set<string>();
  for (const s of scanned.values()) {
    if (!inlined(s.file)) continue;
    packages.add(s.pkg);
    stats[s.file] = s.stat!;
    stats[join(s.pkg, 'package.json')] ??= statOf(join(s.pkg, 'package.json'));
    for (const [n] of s.imports)
      if (!n.startsWith('.') && !n.startsWith('/') && !isBuiltin(n)) bare.push([n, pathToFileURL(s.file).href]);
  }
  // Each import resolved as Node resolved it: inlined files by path, the rest as their URL.
  const nodeResolution: Plugin = {
    name: 'outpost-node-resolution',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (a) => {
        if (a.kind === 'entry-point') return { path: a.path };
        const to = byImporter.get(a.importer)?.get(a.path);
        if (to === undefined) return { errors: [{ text: `${a.path} from ${a.importer} was not resolved` }] };
        if (!to.startsWith('file:')) return { path: to, external: true };
        const file = fileURLToPath(to);
        return inlined(file) ? { path: file } : { path: to, external: true };
      });
    },
  };
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: entryFiles,
    absWorkingDir: '/',
    outdir: '/outpost-inlined',
    entryNames: 'p-[hash]',
    chunkNames: 'p-[hash]',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node}`,
    // Functions and classes keep their names where bundling renames them; nothing is dropped on
    // the package's word (/* @__PURE__ */, "sideEffects": false): what runs is what ran.
    keepNames: true,
    ignoreAnnotations: true,
    legalComments: 'none',
    metafile: true,
    write: false,
    logLevel: 'silent',
    plugins: [nodeResolution],
  });
  const entries = new Map<string, string>();
  for (const [outPath, o] of Object.entries(out.metafile.outputs)) {
    if (o.entryPoint)
      entries.set(pathToFileURL(join('/', o.entryPoint)).href, relative('/outpost-inlined', join('/', outPath)));
  }
  const missing = entryFiles.find((f) => !entries.has(pathToFileURL(f).href));
  if (missing) throw new Error(`no bundle for ${missing}`);
  const writes = out.outputFiles.map((f): [string, string] => [relative('/outpost-inlined', f.path), f.text]);
  return { entries, writes, stats, packages: [...packages], external, bare };
}
