// Builds, once, a Python venv with a pinned `dagster` for the Dagster tests and fixtures.
// It lives outside the repo (~/.cache/outpost/dagster/<version>/, or $OUTPOST_CACHE_DIR/dagster/<version>/)
// so worktrees and CI runs share it; a stamp file written last makes a half-built venv rebuild.
//   tsx scripts/dagster-venv.ts [1.13|1.11|1.9|<exact version>]   → prints the venv's python path
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OutpostError } from '../src/shared/errors.js';

/** The exact pins per supported minor: the newest patch of each on PyPI when recorded. */
export const DAGSTER_PINS = { '1.9': '1.9.13', '1.11': '1.11.16', '1.13': '1.13.29' } as const;
export type DagsterMinor = keyof typeof DAGSTER_PINS;
/** The version the test runner builds by default. */
export const DEFAULT_DAGSTER_MINOR: DagsterMinor = '1.13';
/** Installed beside dagster: the capture package's tests (python/tests) run with pytest. */
export const TEST_PACKAGES = ['pytest==8.3.4'];

export function resolveDagsterVersion(spec: string = DEFAULT_DAGSTER_MINOR): string {
  if (spec in DAGSTER_PINS) return DAGSTER_PINS[spec as DagsterMinor];
  if (/^\d+\.\d+\.\d+$/.test(spec)) return spec;
  throw new OutpostError('CONFIG_INVALID', {
    detail: `dagster version "${spec}": use one of ${Object.keys(DAGSTER_PINS).join(', ')} or an exact x.y.z`,
  });
}

export function dagsterVenvDir(version: string): string {
  const base = process.env.OUTPOST_CACHE_DIR || join(homedir(), '.cache', 'outpost');
  return join(base, 'dagster', version);
}

export interface DagsterVenv {
  version: string;
  dir: string;
  python: string;
  /** False when the stamp was already there. */
  built: boolean;
}

const STAMP = '.outpost-stamp.json';

function run(cmd: string, args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // Low priority: the machines this runs on are shared (pip compiles nothing for dagster, but unpacks a lot).
    const child = spawn('nice', ['-n', '10', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (b: Buffer): void => {
      tail = (tail + b.toString()).slice(-4000);
      for (const line of b.toString().split('\n')) if (/^(Collecting|Successfully|ERROR)/.test(line)) log(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${tail}`)),
    );
  });
}

/** Finds a python3 with the venv module, or throws DAGSTER_PYTHON_MISSING. */
export function findPython3(): string {
  const candidate = process.env.OUTPOST_PYTHON3 || 'python3';
  const probe = spawnSync(candidate, ['-c', 'import venv, sys; print(sys.version_info[:2] >= (3, 9))'], {
    encoding: 'utf8',
  });
  if (probe.error || probe.status !== 0 || probe.stdout.trim() !== 'True') {
    throw new OutpostError('DAGSTER_PYTHON_MISSING', {
      detail: `"${candidate}" ${probe.error ? 'was not found' : 'lacks the venv module or is older than 3.9'}`,
    });
  }
  return candidate;
}

/** Returns the venv for `spec`, building it first when its stamp is missing. */
export async function ensureDagsterVenv(
  spec?: string,
  // stderr: the CLI's stdout is only the python path, for `PY=$(npm run -s dagster:venv)`.
  log: (line: string) => void = (l) => console.error(`[dagster-venv] ${l}`),
): Promise<DagsterVenv> {
  const version = resolveDagsterVersion(spec);
  const dir = dagsterVenvDir(version);
  const python = join(dir, 'bin', 'python');
  const stampPath = join(dir, STAMP);
  const packages = [`dagster==${version}`, ...TEST_PACKAGES];
  const pip = (args: string[]): Promise<void> =>
    run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...args], log);
  let stamp: { version?: string; packages?: string[] } = {};
  try {
    stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as typeof stamp;
  } catch {
    // no stamp: build
  }
  if (stamp.version === version && existsSync(python)) {
    if (packages.every((p) => stamp.packages?.includes(p))) return { version, dir, python, built: false };
    // Same dagster, a test package added since: install it into the existing venv.
    log(`adding ${packages.join(' ')} to ${dir}`);
    await pip(packages).catch((err: unknown) => {
      throw new OutpostError('DAGSTER_VENV_BUILD_FAILED', { detail: `${dir}: ${String(err)}`, cause: err });
    });
    writeFileSync(stampPath, JSON.stringify({ ...stamp, packages }) + '\n');
    return { version, dir, python, built: true };
  }
  const python3 = findPython3();
  const t0 = Date.now();
  log(`building a venv with dagster==${version} in ${dir} (about a minute)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    await run(python3, ['-m', 'venv', dir], log);
    await pip(packages);
    const check = spawnSync(python, ['-c', 'import dagster; print(dagster.__version__)'], { encoding: 'utf8' });
    if (check.stdout.trim() !== version) throw new Error(`import dagster printed "${check.stdout.trim()}"`);
  } catch (err) {
    throw new OutpostError('DAGSTER_VENV_BUILD_FAILED', {
      detail: `dagster==${version} in ${dir}: ${err instanceof Error ? err.message : String(err)}`,
      cause: err,
    });
  }
  writeFileSync(stampPath, JSON.stringify({ version, packages, builtAt: new Date().toISOString() }) + '\n');
  log(`dagster ${version} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { version, dir, python, built: true };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureDagsterVenv(process.argv[2]).then(
    (v) => console.log(v.python),
    (err: unknown) => {
      console.error(err instanceof OutpostError ? `${err.code}: ${err.message}\n  → ${err.hint}` : err);
      process.exit(1);
    },
  );
}

/**
 * For the test runner: when a selected test file needs a real Dagster (an integration, e2e or
 * fault test under a `dagster` path), make a venv available as OUTPOST_TEST_DAGSTER_PYTHON
 * (version from OUTPOST_TEST_DAGSTER_VERSION, default 1.13). In CI a failure fails the run;
 * elsewhere the tests skip with OUTPOST_TEST_DAGSTER_SKIP_REASON. Returns false to abort the run.
 */
export async function prepareDagsterForTests(files: string[], env: NodeJS.ProcessEnv, isCI: boolean): Promise<boolean> {
  const needs = files.some((f) => /dagster/.test(f) && !/(^|\/)unit\//.test(f));
  if (!needs || env.OUTPOST_TEST_DAGSTER_PYTHON) return true;
  try {
    const venv = await ensureDagsterVenv(env.OUTPOST_TEST_DAGSTER_VERSION || DEFAULT_DAGSTER_MINOR, (l) =>
      console.log(`run-tests: ${l}`),
    );
    env.OUTPOST_TEST_DAGSTER_PYTHON = venv.python;
    env.OUTPOST_TEST_DAGSTER_VERSION = venv.version;
    console.log(`run-tests: Dagster ${venv.version} at ${venv.python}`);
    return true;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (isCI) {
      console.error(`run-tests: a Dagster venv is required in CI and could not be built: ${reason}`);
      return false;
    }
    env.OUTPOST_TEST_DAGSTER_SKIP_REASON = `no Dagster venv could be built: ${reason}`;
    console.warn(`run-tests: Dagster tests will be skipped: ${env.OUTPOST_TEST_DAGSTER_SKIP_REASON}`);
    return true;
  }
}
