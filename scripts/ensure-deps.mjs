// Runs before `npm start` and `npm test`: installs what is missing, so a fresh clone needs no other step.
//  1. npm dependencies, when node_modules is absent or older than package.json / package-lock.json;
//  2. the Temporal CLI (found, or built from the Go module proxy into ~/.cache/outpost/bin).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const stampFile = 'node_modules/.outpost-deps-stamp';
const inputs = ['package.json', 'package-lock.json'].filter((f) => existsSync(f));
const digest = createHash('sha256');
for (const f of inputs) digest.update(readFileSync(f));
const want = digest.digest('hex');
const have = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';

if (have !== want) {
  // `npm install` honours the lock file; `npm ci` rejects lock files written without registry URLs.
  const cmd = 'install';
  console.error(`[outpost] installing npm dependencies (npm ${cmd})...`);
  const res = spawnSync('npm', [cmd, '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (res.status !== 0) {
    console.error('[outpost] npm install failed; see the output above.');
    process.exit(res.status ?? 1);
  }
  writeFileSync(stampFile, want + '\n');
}

const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/shared/temporal-cli.ts'], { stdio: 'inherit' });
if (res.status !== 0) process.exit(res.status ?? 1);
