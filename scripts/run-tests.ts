// The test runner behind `npm test`: starts one real Temporal dev server and one
// throwaway PostgreSQL cluster for the whole run, then hands over to node:test.
//   tsx scripts/run-tests.ts [unit|process|integration|e2e|faults|all] [file...]
// `unit` is in-process only; tests that spawn child processes live in `process/` (see test/README.md).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startDevServer, type DevServer } from '../src/shared/temporal-dev-server.js';
import { startPostgres, type PgCluster } from '../test/support/postgres.js';
import { prepareDagsterForTests } from './dagster-venv.js';
import { failureSummary, tapFailures } from './tap-failures.js';

const SUITES = ['unit', 'process', 'integration', 'e2e', 'faults'] as const;
type Suite = (typeof SUITES)[number];
const DEFAULT_SUITES: Suite[] = ['unit', 'process', 'integration', 'e2e', 'faults'];

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function listTests(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(listTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const suites = args.filter((a): a is Suite => (SUITES as readonly string[]).includes(a));
  // A file runs as given; a folder (e.g. test/process/agent) runs every *.test.ts below it.
  const explicit = args.filter((a) => a.endsWith('.ts') || isDir(a));
  const chosen = suites.length ? suites : args.includes('all') || !args.length ? DEFAULT_SUITES : [];
  const files = [
    ...chosen.flatMap((s) => listTests(join('test', s))),
    ...explicit.flatMap((a) => (isDir(a) ? listTests(a) : [a])),
  ];
  if (!files.length) {
    console.error('run-tests: no test files matched', args);
    return 1;
  }
  const isCI = process.env.CI === 'true';
  const env: NodeJS.ProcessEnv = { ...process.env };
  let pg: PgCluster | undefined;
  let temporal: DevServer | undefined;
  const cleanup = (): void => {
    pg?.stop();
    pg = undefined;
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void temporal?.stop(2_000);
      cleanup();
      process.exit(130);
    });
  }

  if (!env.OUTPOST_TEST_PG_URL) {
    try {
      pg = await startPostgres();
      env.OUTPOST_TEST_PG_URL = pg.url;
      console.log(`run-tests: PostgreSQL ready at ${pg.url}`);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (isCI) {
        console.error(`run-tests: PostgreSQL is required in CI and could not start: ${reason}`);
        return 1;
      }
      env.OUTPOST_TEST_PG_SKIP_REASON = `no PostgreSQL server could be started: ${reason} (run \`npm run system:install\`)`;
      console.warn(`run-tests: PostgreSQL tests will be skipped: ${env.OUTPOST_TEST_PG_SKIP_REASON}`);
    }
  }
  // Built once and cached outside the repo; see scripts/dagster-venv.ts.
  if (!(await prepareDagsterForTests(files, env, isCI))) {
    cleanup();
    return 1;
  }
  if (!env.OUTPOST_TEST_TEMPORAL_ADDRESS) {
    const t0 = Date.now();
    temporal = await startDevServer({ logFile: join('.outpost', 'test-temporal.log') });
    env.OUTPOST_TEST_TEMPORAL_ADDRESS = temporal.address;
    console.log(`run-tests: Temporal dev server ready at ${temporal.address} in ${Date.now() - t0} ms`);
  }

  const concurrency = env.OUTPOST_TEST_CONCURRENCY ?? '2';
  // Besides what the terminal shows, a TAP copy, read at the end to list what failed last.
  mkdirSync('.outpost', { recursive: true });
  const tapReport = join('.outpost', 'test-report.tap');
  const nodeArgs = [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    // Per file. The fault suites take 2-3 min on a quiet 2-core host; at load ~30 (a mid-session
    // CI beside four engineers' work) agent-kills needed more than 10, each kill -9 scenario 60-115 s.
    // 20 min still ends a hung file well inside CI's 90.
    '--test-timeout=1200000',
    `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapReport}`,
    ...files,
  ];
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, nodeArgs, { env, stdio: 'inherit' });
    child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0)));
  });
  await temporal?.stop();
  cleanup();
  let summary = '';
  try {
    summary = failureSummary(tapFailures(readFileSync(tapReport, 'utf8')), tapReport);
  } catch (err) {
    console.error(`run-tests: could not read ${tapReport}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (summary) console.error(summary);
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
