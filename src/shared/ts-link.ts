// The linked compile cache (ts-cache.ts): when a location's whole static graph is TypeScript and
// JSON the cache holds, the helper (ts-precompile.ts) also writes each file as an ES module Node
// imports straight from the cache, without module hooks: every static specifier rewritten to what
// Node would resolve it to from the source (a sibling's linked entry, a JSON file's own URL with
// `type: 'json'`, a package's file as resolved under the workers' conditions), import.meta.url,
// .filename and .dirname the source's, and the source map naming the .ts by absolute URL. That
// spares each run worker and standby Node's hooks thread (a second Node environment, ~40 ms of
// CPU per boot, src/user-code/common/ts-hooks.ts). A graph with a dynamic import or another use
// of import.meta is not linked: what it loads at run time needs the hooks; nor is one importing a
// package that resolves to what Node cannot import alone (a workspace's .ts source). A package
// is trusted at run time while its package.json and the real path of the node_modules entry it
// was found through are unchanged and nothing nearer shadows it (ts-cache.ts linkedEntryUrl).
// Beside it, the same graph with the packages it imports inlined where that means the same
// (ts-link-packages.ts): what run workers and standbys import, one bundle in place of each
// package's files (zod/v4: 65 modules, ~40 ms of CPU per boot).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, extname, isAbsolute, join, parse as parsePath, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fileHash, linkedFile, resolverKey, type LinkedGraph } from './ts-cache.js';
import { inlinePackages, type InlinedPackages, type Resolver } from './ts-link-packages.js';
import { transpileForLink, type LocationGraph } from './ts-transpile.js';
import { COMPILED_CONDITION } from './cli-command.js';

/** Linked entries to write (cache file path → text) and what the manifest records. */
export interface Linked {
  graph: LinkedGraph;
  writes: Array<[string, string]>;
}

/** What a bare specifier may resolve to in a linked graph: files Node imports without hooks. */
const PACKAGE_EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.json']);

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`). */
function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** How long Node's resolution of a location's imports may take, in all. */
const RESOLVE_TIMEOUT_MS = 30_000;
const RESOLVER_ARGS = [`--conditions=${COMPILED_CONDITION}`, '--experimental-import-meta-resolve', '--no-warnings'];

/**
 * Node's own resolution of bare specifiers from their importers, as the compiled workers resolve
 * them (`--conditions=outpost-compiled`; NODE_OPTIONS is inherited and part of the key).
 */
function resolveBare(pairs: Array<[string, string]>): Array<string | null> {
  if (!pairs.length) return [];
  const script =
    'const p=JSON.parse(process.argv[1]);process.stdout.write(JSON.stringify(p.map(([s,f])=>{try{return import.meta.resolve(s,f)}catch{return null}})))';
  const r = spawnSync(
    process.execPath,
    [...RESOLVER_ARGS, '--input-type=module', '-e', script, JSON.stringify(pairs)],
    {
      encoding: 'utf8',
      timeout: RESOLVE_TIMEOUT_MS,
    },
  );
  if (r.status !== 0) throw new Error(`resolving packages: ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<string | null>;
}

/**
 * The same resolution as resolveBare for many batches (a package graph, level by level) from one
 * child Node: a process start per batch costs more than the walk.
 */
function resolverProcess(): { resolve: Resolver; close: () => void } {
  const script =
    "let b='';process.stdin.setEncoding('utf8').on('data',(d)=>{b+=d;let i;while((i=b.indexOf('\\n'))>=0){const p=JSON.parse(b.slice(0,i));b=b.slice(i+1);" +
    "process.stdout.write(JSON.stringify(p.map(([s,f])=>{try{return import.meta.resolve(s,f)}catch{return null}}))+'\\n')}})";
  const child = spawn(process.execPath, [...RESOLVER_ARGS, '--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting: Array<(line: string) => void> = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) waiting.shift()?.(buf.slice(0, i));
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the package resolver exited (${code})`)));
  });
  exited.catch(() => undefined);
  // As resolveBare's: a resolver that hangs does not hold the helper.
  const timer = setTimeout(() => child.kill(), RESOLVE_TIMEOUT_MS).unref();
  return {
    resolve: async (pairs) => {
      if (!pairs.length) return [];
      const line = new Promise<string>((r) => waiting.push(r));
      child.stdin.write(`${JSON.stringify(pairs)}\n`);
      return JSON.parse(await Promise.race([line, exited])) as Array<string | null>;
    },
    close: () => {
      clearTimeout(timer);
      child.stdin.end();
    },
  };
}

/** The package.json a resolution rests on: the named package's (or the importer's scope's). */
function packageJsonOf(file: string, name: string | undefined): string | undefined {
  for (let dir = dirname(file); dir !== parsePath(dir).root; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (!existsSync(pkg)) continue;
    if (name === undefined) return pkg;
    try {
      if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === name) return pkg;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Outpost's own package.json: the nearest one up from this module that has a name. */
function outpostPackageJson(): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== parsePath(dir).root; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name) {
        return join(dir, 'package.json');
      }
    } catch {
      // none here (or dist's own, which has no name)
    }
  }
  return undefined;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function decodeVlq(seg: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of seg) {
    const d = B64.indexOf(ch);
    value += (d & 31) << shift;
    if (d & 32) shift += 5;
    else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = shift = 0;
    }
  }
  return out;
}

function encodeVlq(values: number[]): string {
  let s = '';
  for (const v of values) {
    let n = v < 0 ? (-v << 1) | 1 : v << 1;
    do {
      let d = n & 31;
      n >>>= 5;
      if (n) d |= 32;
      s += B64[d];
    } while (n);
  }
  return s;
}

/** A source map's mappings with generated columns on `line` moved by `shift(column)`. */
function shiftColumns(mappings: string, edits: Map<number, (col: number) => number>): string {
  return mappings
    .split(';')
    .map((line, i) => {
      const shift = edits.get(i);
      if (!shift || !line) return line;
      let prev = 0;
      let prevOut = 0;
      return line
        .split(',')
        .map((seg) => {
          const v = decodeVlq(seg);
          prev += v[0]!;
          const col = shift(prev);
          v[0] = col - prevOut;
          prevOut = col;
          return encodeVlq(v);
        })
        .join(',');
    })
    .join(';');
}

/** `code`'s edits applied (offset, length replaced, text), its map's columns shifted to match. */
function edit(code: string, map: string, edits: Array<[number, number, string]>): { code: string; map: string } {
  edits.sort((a, b) => a[0] - b[0]);
  const byLine = new Map<number, Array<[number, number]>>(); // line → [column after the edit, delta]
  let out = '';
  let at = 0;
  for (const [start, len, text] of edits) {
    out += code.slice(at, start) + text;
    at = start + len;
    const before = code.slice(0, start);
    const line = before.split('\n').length - 1;
    const col = start - (before.lastIndexOf('\n') + 1);
    const list = byLine.get(line) ?? [];
    list.push([col + len, text.length - len]);
    byLine.set(line, list);
  }
  out += code.slice(at);
  const shifts = new Map<number, (col: number) => number>();
  for (const [line, list] of byLine) {
    shifts.set(line, (c) => c + list.reduce((sum, [from, delta]) => (c >= from ? sum + delta : sum), 0));
  }
  const m = JSON.parse(map) as { mappings: string };
  m.mappings = shiftColumns(m.mappings, shifts);
  return { code: out, map: JSON.stringify(m) };
}

/**
 * The linked entries of `entry`'s graph, or why it cannot be linked. `cached(f)` says whether a
 * file's plain entry is cached (the deployer's own directories only: the same rule holds here).
 */
export async function linkLocation(
  entry: string,
  graph: LocationGraph,
  sources: Record<string, string>,
  dir: string,
  version: string,
  cached: (f: string) => boolean,
): Promise<Linked | string> {
  if (graph.unsupported) return graph.unsupported;
  for (const f of graph.files) {
    if (extname(f) === '.json') continue;
    if (!['.ts', '.mts'].includes(extname(f)) || !cached(f)) return `${f} is not cached TypeScript`;
  }
  // The graph holds real paths; the module may be named through a symlink (current/ -> a release).
  const real = realpathSync(entry);
  const main = graph.files.find((f) => f === entry) ?? graph.files.find((f) => realpathSync(f) === real);
  if (main === undefined) return `${entry} is not in its own graph`;
  const pairs: Array<[string, string]> = [];
  for (const f of graph.files) {
    for (const i of graph.imports[f] ?? []) {
      if (!i.file && !isBuiltin(i.specifier)) pairs.push([i.specifier, pathToFileURL(f).href]);
    }
  }
  const resolved = resolveBare(pairs);
  const bare = new Map<string, string>(); // importer \0 specifier → URL
  const packages: Record<string, string> = {};
  const absent = new Set<string>();
  const links: Record<string, string> = {};
  for (const [n, [spec, from]] of pairs.entries()) {
    const url = resolved[n];
    if (!url?.startsWith('file:') && !(url && isBuiltin(url))) return `${spec} does not resolve to a file`;
    bare.set(`${from}\0${spec}`, url);
    if (!url.startsWith('file:')) continue;
    const name = spec.startsWith('#') ? undefined : packageName(spec);
    const target = fileURLToPath(url);
    // What Node imports as it is: a package's TypeScript (a workspace's source) needs the hooks.
    if (!PACKAGE_EXTENSIONS.has(extname(target))) return `${spec} resolves to ${target}, which Node cannot import`;
    const pkg = packageJsonOf(name === undefined ? fileURLToPath(from) : target, name);
    if (!pkg) return `${spec}: no package.json for ${target}`;
    packages[pkg] = fileHash(readFileSync(pkg, 'utf8'));
    if (name !== undefined) recordLookup(spec, from, links, absent);
  }
  const resolver = resolverKey([`--conditions=${COMPILED_CONDITION}`], process.env.NODE_OPTIONS);
  const key = fileHash(JSON.stringify([version, graph.files.map((f) => [f, fileHash(sources[f]!)]), [...bare]]));
  const ts = graph.files.filter((f) => extname(f) !== '.json');
  // The entry first: the worker imports files[0].
  ts.sort((a, b) => Number(b === main) - Number(a === main));
  const plain = await writeLinked(ts, graph, sources, dir, key, (spec) => bare.get(spec));
  if (typeof plain === 'string') return plain;
  const linkedGraph: LinkedGraph = { files: plain.files, packages, absent: [...absent], links, resolver };
  const writes = plain.writes;
  // The same graph with its packages inlined, for run workers and standbys (ts-link-packages.ts).
  // Never inlined: the location's own package and Outpost's (one SDK, one error registry).
  const own = [packageJsonOf(real, undefined), outpostPackageJson()].flatMap((p) => (p ? [dirname(p)] : []));
  const ours = (pkg: string): boolean =>
    own.some((o) => {
      const rel = relative(o, pkg);
      return !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('node_modules');
    });
  const roots = [...new Set([...bare.values()].filter((u) => u.startsWith('file:')))];
  let inlined: InlinedPackages | string | undefined;
  if (roots.length) {
    const resolver = resolverProcess();
    inlined = await inlinePackages(roots, resolver.resolve, ours)
      .catch((err: unknown) => `inlining failed: ${String((err as Error)?.message ?? err)}`)
      .finally(resolver.close);
  }
  if (typeof inlined === 'string') linkedGraph.notInlined = inlined;
  else if (inlined) {
    // Bare imports inside inlined packages rest on node_modules entries as the location's do.
    for (const [spec, from] of inlined.bare) recordLookup(spec, from, links, absent);
    linkedGraph.absent = [...absent];
    const inlinedKey = fileHash(JSON.stringify([key, inlined.writes.map(([f]) => f)]));
    const facade = (url: string): string | undefined => {
      const name = inlined.entries.get(url);
      return name === undefined ? url : pathToFileURL(join(dir, name)).href;
    };
    const via = await writeLinked(ts, graph, sources, dir, inlinedKey, (spec) => {
      const url = bare.get(spec);
      return url === undefined ? undefined : facade(url);
    });
    if (typeof via === 'string') linkedGraph.notInlined = via;
    else {
      for (const [name, text] of inlined.writes) writes.push([join(dir, name), text]);
      writes.push(...via.writes);
      linkedGraph.inlined = {
        files: [...via.files, ...inlined.writes.map(([name]) => name)],
        stats: inlined.stats,
        packages: inlined.packages,
      };
      if (Object.keys(inlined.external).length) linkedGraph.notInlined = JSON.stringify(inlined.external);
    }
  }
  return { graph: linkedGraph, writes };
}

/** Records the node_modules entry Node finds `spec`'s package through from `from` (a URL). */
function recordLookup(spec: string, from: string, links: Record<string, string>, absent: Set<string>): void {
  if (spec.startsWith('#')) return;
  const name = packageName(spec);
  // Node takes the first node_modules/<name> up from the importer, often a symlink (pnpm,
  // workspaces, npm link) whose real path is where the package is: one installed nearer later,
  // or that symlink pointed elsewhere, resolves the package elsewhere.
  for (let d = dirname(fileURLToPath(from)); ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(candidate)) {
      links[candidate] = realpathSync(candidate);
      break;
    }
    absent.add(candidate);
    if (d === dirname(d)) break;
  }
}

/**
 * The location's files as linked entries under `key`: each static specifier rewritten to its
 * sibling's linked entry, its JSON file, or what `bareTo(importer URL \0 specifier)` says.
 */
async function writeLinked(
  ts: string[],
  graph: LocationGraph,
  sources: Record<string, string>,
  dir: string,
  key: string,
  bareTo: (importerAndSpec: string) => string | undefined,
): Promise<{ files: string[]; writes: Array<[string, string]> } | string> {
  const { init, parse } = await import('es-module-lexer');
  await init;
  const writes: Array<[string, string]> = [];
  const files: string[] = [];
  for (const f of ts) {
    const local = new Map((graph.imports[f] ?? []).map((i) => [i.specifier, i.file]));
    const { code, map } = await transpileForLink(f, sources[f]!);
    const edits: Array<[number, number, string]> = [];
    for (const i of parse(code)[0]) {
      if (i.d !== -1 || i.n === undefined) return `${f}: ${i.d === -2 ? 'import.meta' : 'a dynamic import'}`;
      const file = local.get(i.n);
      let to: string | undefined;
      if (file && extname(file) === '.json') to = pathToFileURL(file).href;
      else if (file) to = pathToFileURL(linkedFile(dir, key, file)).href;
      else to = isBuiltin(i.n) ? i.n : bareTo(`${pathToFileURL(f).href}\0${i.n}`);
      if (!to) return `${f}: cannot link ${i.n}`;
      // The whole literal, quotes included, as a JSON string: esbuild writes a specifier in
      // single quotes when that escapes less, and a file URL keeps a ' of its path.
      const quote = code[i.s - 1];
      if ((quote !== '"' && quote !== "'") || code[i.e] !== quote) return `${f}: cannot link ${i.n}`;
      edits.push([i.s - 1, i.e - i.s + 2, JSON.stringify(to)]);
      // A JSON file, the location's or a package's, as the hooks import it (no attribute needed).
      if (to.startsWith('file:') && to.endsWith('.json') && i.a < 0) edits.push([i.e + 1, 0, 'with{type:"json"}']);
    }
    const out = edit(code, map, edits);
    const inline = Buffer.from(out.map).toString('base64');
    writes.push([linkedFile(dir, key, f), `${out.code}//# sourceMappingURL=data:application/json;base64,${inline}\n`]);
    files.push(linkedFile(dir, key, f).slice(dir.length + 1));
  }
  return { files, writes };
}
