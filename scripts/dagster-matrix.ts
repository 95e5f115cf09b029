// Runs the Dagster tests once per supported Dagster minor (1.9, 1.11, 1.13), one after the other
// (each builds its cached venv on first use):  npm run test:dagster-matrix [-- 1.11 ...]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DAGSTER_PINS } from './dagster-venv.js';

const dirs = [join('test', 'unit', 'agent', 'dagster'), join('test', 'integration', 'dagster')];
const files = dirs.flatMap((d) =>
  readdirSync(d)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join(d, f)),
);
const minors = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(DAGSTER_PINS);
const results: string[] = [];
let failed = 0;
for (const minor of minors) {
  console.log(`\n=== Dagster ${minor} ===`);
  const env: NodeJS.ProcessEnv = { ...process.env, OUTPOST_TEST_DAGSTER_VERSION: minor };
  delete env.OUTPOST_TEST_DAGSTER_PYTHON;
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('scripts', 'run-tests.ts'), ...files], {
    env,
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
  results.push(`dagster ${minor}: ${r.status === 0 ? 'passed' : 'FAILED'}`);
}
console.log(`\n${results.join('\n')}`);
process.exit(failed ? 1 : 0);
