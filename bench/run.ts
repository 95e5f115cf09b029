// `npm run bench [-- <name>...] [--quick]`: runs each benchmark in bench/ as its own process
// (each starts the servers it needs), one after another so they don't compete for the cores.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''))
  .sort();
const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('--'));
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !available.includes(n));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of names.length ? names : available) {
  console.log(`\n# bench: ${name} ${flags.join(' ')}`);
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(dir, `${name}.ts`), ...flags], { stdio: 'inherit' });
  if (res.status !== 0) {
    failed++;
    console.error(`bench ${name} exited with ${res.status ?? res.signal}`);
  }
}
process.exit(failed ? 1 : 0);
