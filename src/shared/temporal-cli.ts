// Finds the `temporal` CLI (dev server + UI) or builds it from the Go module proxy.
// Order: $OUTPOST_TEMPORAL_BIN, the cache dir outside the repo, PATH, then `go install`.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OutpostError } from './errors.js';

/** The CLI release we build. Later tags carry a `replace` directive that `go install` refuses. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** Cache directory for the binary: `$OUTPOST_CACHE_DIR/bin`, else `$XDG_CACHE_HOME/outpost/bin`, else `~/.cache/outpost/bin`. */
export function temporalCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OUTPOST_CACHE_DIR) return join(env.OUTPOST_CACHE_DIR, 'bin');
  const base = env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'outpost', 'bin');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function runsOk(path: string): boolean {
  const res = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return res.status === 0 && /temporal version/.test(res.stdout);
}

export interface FoundCli {
  path: string;
  source: 'env' | 'cache' | 'path' | 'built';
}

/** Looks for an existing binary without building anything. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): FoundCli | undefined {
  const fromEnv = env.OUTPOST_TEMPORAL_BIN;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new OutpostError('TEMPORAL_CLI_NOT_FOUND', {
        detail: `OUTPOST_TEMPORAL_BIN=${fromEnv} is not an executable file`,
      });
    }
    return { path: fromEnv, source: 'env' };
  }
  const cached = join(temporalCacheDir(env), 'temporal');
  if (isExecutable(cached)) return { path: cached, source: 'cache' };
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'temporal');
    if (isExecutable(candidate) && runsOk(candidate)) return { path: candidate, source: 'path' };
  }
  return undefined;
}

/** Builds the CLI into the cache dir with `go install`, streaming Go's progress to stderr. */
export async function buildTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new OutpostError('TEMPORAL_CLI_GO_MISSING', {
      detail: 'the `go` command was not found on PATH',
    });
  }
  const dir = temporalCacheDir(env);
  mkdirSync(dir, { recursive: true });
  process.stderr.write(
    `[outpost] Temporal CLI not found; building ${MODULE}@${TEMPORAL_CLI_VERSION} into ${dir} (takes a few minutes on first run)\n`,
  );
  const started = Date.now();
  const ticker = setInterval(() => {
    process.stderr.write(
      `[outpost] still building the Temporal CLI... ${Math.round((Date.now() - started) / 1000)}s\n`,
    );
  }, 15_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('go', ['install', '-x=false', `${MODULE}@${TEMPORAL_CLI_VERSION}`], {
        env: { ...env, CGO_ENABLED: '0', GOBIN: dir, GOFLAGS: '-mod=mod' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    if (code !== 0) {
      throw new OutpostError('TEMPORAL_CLI_BUILD_FAILED', { detail: `go install exited with ${code}` });
    }
  } finally {
    clearInterval(ticker);
  }
  const built = join(dir, 'temporal');
  if (!existsSync(built) || !runsOk(built)) {
    throw new OutpostError('TEMPORAL_CLI_BUILD_FAILED', { detail: `${built} does not run` });
  }
  process.stderr.write(`[outpost] Temporal CLI built in ${Math.round((Date.now() - started) / 1000)}s: ${built}\n`);
  return built;
}

/** Returns a working `temporal` binary, building it when none is found. */
export async function ensureTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<FoundCli> {
  const found = findTemporalCli(env);
  if (found) return found;
  return { path: await buildTemporalCli(env), source: 'built' };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureTemporalCli()
    .then((cli) => console.log(`temporal CLI (${cli.source}): ${cli.path}`))
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}
