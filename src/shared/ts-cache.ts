// The compile cache for a code location's TypeScript in compiled processes (run workers, standbys,
// code servers): each TypeScript file of the location, transpiled once by esbuild the way tsx
// does it (ESM, inline source map, names kept), stored under a key that hashes its path, its
// text and the transpiler, outside the user's tree. A manifest per location entry lists the
// files of its static import graph and says whether the light loader (src/user-code/common/ts-hooks.ts) can import
// it with the same meaning as tsx; anything it cannot (CommonJS TypeScript, JSX, tsconfig path
// aliases, a file that changed since) leaves the process on tsx (cli-command.ts).
//
// When the whole graph is cached, the manifest also names its linked entries (ts-link.ts):
// the same files as ready ES modules a process imports without hooks (linkedEntryUrl), and the
// same again with the location's packages inlined for run workers and standbys, used while every
// inlined file is as it was (ts-link-packages.ts).
//
// Only the agent writes the cache (ts-precompile.ts, a helper it runs outside any sandbox: it
// parses, never executes, user code); sandboxes see it read-only, so user code cannot plant
// code for the next run. A process that finds a file missing transpiles it in memory.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Bumped when what a cache entry holds changes meaning. */
export const TS_CACHE_FORMAT = 1;
const FORMAT = TS_CACHE_FORMAT;

/** The cache directory: per uid, like tsx's (/tmp/tsx-<uid>), bound read-only in sandboxes. */
export function tsCacheDir(): string {
  return process.env.OUTPOST_TS_CACHE_DIR ?? join(tmpdir(), `outpost-ts-${process.getuid?.() ?? 0}`);
}

/** Creates the cache directory if missing, 0755 whatever the umask (a wider one is not trusted). */
export function ensureCacheDir(dir: string): void {
  if (mkdirSync(dir, { recursive: true }) !== undefined) chmodSync(dir, 0o755);
}

/** A directory this process may trust: ours, not a symlink, writable by nobody else. */
export function trustedCacheDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    return st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function sha(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 40);
}

/** What the transpiled output depends on besides the file itself. */
function transpilerKey(esbuildVersion: string): string {
  return `${FORMAT}:${esbuildVersion}:${process.versions.node}`;
}

/** The cache file holding `source` (the text of `path`) transpiled. */
export function entryFile(dir: string, path: string, source: string, esbuildVersion: string): string {
  return join(dir, `${sha(transpilerKey(esbuildVersion), path, source)}.mjs`);
}

/** The linked entry of `path` in the graph `key` (ts-link.ts). */
export function linkedFile(dir: string, key: string, path: string): string {
  return join(dir, `l-${sha(key, path)}.mjs`);
}

/** What decides how Node resolves a bare specifier in a process: its conditions and NODE_OPTIONS. */
export function resolverKey(execArgv: string[], nodeOptions: string | undefined): string {
  const conditions: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    const m = /^(?:--conditions|-C)(?:=(.*))?$/.exec(a);
    if (m) conditions.push(m[1] ?? execArgv[++i] ?? '');
  }
  return JSON.stringify([conditions.sort(), nodeOptions ?? '', process.versions.node]);
}

/**
 * The URL of `entry`'s linked entry, when this process can import it as it stands without module
 * hooks: the manifest is usable (every source file unchanged), the graph was linked under this
 * process's resolution, every package.json it rests on is unchanged, nothing shadows a resolved
 * package and each is still found through the same path, and every linked entry is there.
 * Otherwise undefined (the light loader's hooks then). With `inlined` (run workers, standbys) the
 * graph with its packages inlined when it has one and every inlined file has its recorded size,
 * mtime and ctime (one stat each), else the plain linked graph: its packages load from their files.
 */
export function linkedEntryUrl(dir: string, entry: string, opts: { inlined?: boolean } = {}): string | undefined {
  const linked = usableManifest(dir, entry)?.linked;
  if (!linked || linked.resolver !== resolverKey(process.execArgv, process.env.NODE_OPTIONS)) return undefined;
  try {
    for (const [pkg, hash] of Object.entries(linked.packages)) {
      if (fileHash(readFileSync(pkg, 'utf8')) !== hash) return undefined;
    }
    // A manifest linked before links were recorded is not trusted on its packages.
    if (!linked.links) return undefined;
    for (const [at, real] of Object.entries(linked.links)) if (realpathSync(at) !== real) return undefined;
  } catch {
    return undefined;
  }
  if (linked.absent.some((p) => existsSync(p))) return undefined;
  if (opts.inlined && linked.inlined && inlinedUnchanged(linked.inlined.stats)) {
    if (linked.inlined.files.every((f) => existsSync(join(dir, f)))) {
      return pathToFileURL(join(dir, linked.inlined.files[0]!)).href;
    }
  }
  if (!linked.files.every((f) => existsSync(join(dir, f)))) return undefined;
  return pathToFileURL(join(dir, linked.files[0]!)).href;
}

/**
 * Whether every inlined file is as it was inlined: one stat each (a patch-package edit changes
 * mtime and ctime even when the size stays). Otherwise the packages load from their own files.
 */
function inlinedUnchanged(stats: Record<string, [number, number, number]>): boolean {
  for (const [file, [size, mtime, ctime]] of Object.entries(stats)) {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st || st.size !== size || st.mtimeMs !== mtime || st.ctimeMs !== ctime) return false;
  }
  return true;
}

/** The manifest of a location entry module. */
export function manifestFile(dir: string, entry: string): string {
  return join(dir, `m-${sha(String(FORMAT), resolve(entry))}.json`);
}

export interface TsManifest {
  format: number;
  esbuild: string;
  /** Every local file of the static graph: absolute path → sha of its text. */
  files: Record<string, string>;
  /** Why the light loader cannot take this graph (tsx does), or undefined when it can. */
  unsupported?: string;
  /** The graph's linked entries (ts-link.ts), when it could be linked. */
  linked?: LinkedGraph;
  /** Why it could not be linked (the light loader's hooks take it). */
  unlinked?: string;
}

/** What a linked graph is (ts-link.ts writes it) and what it rests on beyond the source files. */
export interface LinkedGraph {
  /** Cache file names of the linked entries; the location's first. */
  files: string[];
  /** package.json path → sha of its text, for every package a bare specifier resolved into. */
  packages: Record<string, string>;
  /** node_modules entries absent at link time that would shadow a resolved package. */
  absent: string[];
  /** The node_modules/<name> entry each package was found through → its real path then. */
  links: Record<string, string>;
  /** The conditions the packages were resolved under (resolverKey). */
  resolver: string;
  /** The same graph with its packages inlined (ts-link-packages.ts), for run workers and standbys. */
  inlined?: InlinedGraph;
  /** Why the packages, or some of them, are not inlined. */
  notInlined?: string;
}

/** A linked graph whose packages are inlined: it rests on every inlined file as it was. */
export interface InlinedGraph {
  /** Cache file names: the location's linked entries (its module first), then the packages'. */
  files: string[];
  /** Each inlined file and package.json → [size, mtimeMs, ctimeMs] when it was inlined. */
  stats: Record<string, [number, number, number]>;
  /** The package directories inlined. */
  packages: string[];
}

export function fileHash(source: string): string {
  return sha(source);
}

/** Whether a .ts file is an ES module to Node's rules (nearest package.json says "module"). */
export function esmScope(path: string): boolean {
  if (path.endsWith('.mts')) return true;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: string }).type === 'module';
      } catch {
        return false;
      }
    }
    if (dirname(dir) === dir) return false;
  }
}

/** Extensions the light loader transpiles; any other TypeScript-ish file means tsx. */
export const LIGHT_EXTENSIONS = new Set(['.ts', '.mts']);
export const NATIVE_EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.json', '.node']);

/**
 * The manifest of `entry` when the light loader can import it as it stands: it exists, was made
 * by this transpiler, says the graph is supported, and every file still has the text it was
 * made from. Otherwise undefined (tsx then).
 */
export function usableManifest(dir: string, entry: string): TsManifest | undefined {
  if (!LIGHT_EXTENSIONS.has(extname(entry))) return undefined;
  if (!trustedCacheDir(dir)) return undefined;
  let m: TsManifest;
  try {
    m = JSON.parse(readFileSync(manifestFile(dir, entry), 'utf8')) as TsManifest;
  } catch {
    return undefined;
  }
  if (m.format !== FORMAT || m.unsupported) return undefined;
  for (const [path, hash] of Object.entries(m.files)) {
    try {
      if (fileHash(readFileSync(path, 'utf8')) !== hash) return undefined;
    } catch {
      return undefined;
    }
  }
  return m;
}
