// Fills the compile cache (ts-cache.ts) for one code location: run as a short helper process by
// the agent before it starts the location's code server (compiled agents only), outside any
// sandbox: it reads and parses the user's files with esbuild and never runs them. Writes each
// transpiled file (and, for a graph that can be, its linked entries: ts-link.ts), then the
// manifest last, each through a rename, so a reader sees whole files; then removes entries
// nothing rewrote for a week.
//   node dist/src/shared/ts-precompile.js <module>
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ensureCacheDir,
  entryFile,
  fileHash,
  LIGHT_EXTENSIONS,
  manifestFile,
  trustedCacheDir,
  tsCacheDir,
  TS_CACHE_FORMAT,
  type TsManifest,
} from './ts-cache.js';
import { RUNS_COMPILED } from './cli-command.js';
import { linkLocation } from './ts-link.js';
import { esbuildVersion, locationGraph, transpile } from './ts-transpile.js';

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, path);
}

function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return !rel.startsWith('..') && !rel.startsWith('/');
}

/** Transpiles `entry`'s graph into the cache; returns the manifest written. */
export async function precompileLocation(entry: string, dir = tsCacheDir()): Promise<TsManifest> {
  ensureCacheDir(dir);
  if (!trustedCacheDir(dir)) throw new Error(`${dir} is not a directory only this user can write`);
  const abs = resolve(entry);
  const version = await esbuildVersion();
  const graph = await locationGraph(abs);
  const mine = [dirname(abs), process.cwd()];
  const files: Record<string, string> = {};
  const sources: Record<string, string> = {};
  // Only the deployer's own directories: a file elsewhere may sit where a sandbox hides it
  // (the agent's data), and the cache is readable from every sandbox. Such files are
  // transpiled in memory by whoever can read them.
  const cached = (f: string): boolean =>
    !graph.unsupported && LIGHT_EXTENSIONS.has(extname(f)) && mine.some((d) => within(f, d));
  for (const f of graph.files) {
    const source = (sources[f] = readFileSync(f, 'utf8'));
    files[f] = fileHash(source);
    if (cached(f)) writeAtomic(entryFile(dir, f, source, version), await transpile(f, source));
  }
  const manifest: TsManifest = { format: TS_CACHE_FORMAT, esbuild: version, files, unsupported: graph.unsupported };
  if (!graph.unsupported) {
    // A graph that cannot be linked (or a linker that fails) still has the hooks over the cache.
    const linked = await linkLocation(abs, graph, sources, dir, version, cached).catch(
      (err: unknown) => `linking failed: ${String((err as Error)?.message ?? err)}`,
    );
    if (typeof linked === 'string') manifest.unlinked = linked;
    else {
      for (const [file, text] of linked.writes) writeAtomic(file, text);
      manifest.linked = linked.graph;
    }
  }
  writeAtomic(manifestFile(dir, abs), JSON.stringify(manifest));
  prune(dir);
  return manifest;
}

/** Entries no precompile rewrote for this long go (each run of this helper rewrites its own). */
const PRUNE_AFTER_MS = 7 * 24 * 3600_000;

function prune(dir: string): void {
  const before = Date.now() - PRUNE_AFTER_MS;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    try {
      if (statSync(path).mtimeMs < before) rmSync(path, { force: true });
    } catch {
      // gone already (another helper pruned it)
    }
  }
}

/** How long the agent waits for the helper before it starts the code server anyway. */
const PRECOMPILE_WAIT_MS = 5_000;

/**
 * Compiled agents: runs the helper for a location's module before its code server starts.
 * Resolves with its exit code, or null when none ran or it took longer than PRECOMPILE_WAIT_MS
 * (it goes on: later processes find its output). Until the cache has the location, processes
 * load it through tsx; a failure only leaves it there.
 */
export function precompileLocationTs(
  spec: { module?: string; command?: string[]; workingDirectory?: string },
  env: NodeJS.ProcessEnv,
): Promise<number | null> {
  if (!RUNS_COMPILED || !spec.module || spec.command?.length) return Promise.resolve(null);
  const cwd = spec.workingDirectory ? resolve(spec.workingDirectory) : process.cwd();
  const helper = fileURLToPath(import.meta.url);
  return new Promise((done) => {
    const child = spawn(process.execPath, [helper, resolve(cwd, spec.module!)], { cwd, env, stdio: 'ignore' });
    const timer = setTimeout(() => done(null), PRECOMPILE_WAIT_MS).unref();
    child.once('error', () => done(null));
    child.once('exit', (code) => {
      clearTimeout(timer);
      done(code);
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  precompileLocation(process.argv[2]!).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`ts-precompile: ${String((err as Error)?.message ?? err)}\n`);
      process.exit(1);
    },
  );
}
