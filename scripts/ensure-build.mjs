// Runs before `npm start` (after ensure-deps): rebuilds dist/ when it is missing or older than
// its sources (bin/build-state.mjs), so a fresh clone and an edited tree both start compiled.
// Fresh: a stat walk of the sources, a few milliseconds.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildState } from '../bin/build-state.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const state = buildState(root);
if (state !== 'fresh') {
  console.error(`[outpost] build ${state}: compiling to dist/ (npm run build)...`);
  const res = spawnSync(process.execPath, [fileURLToPath(new URL('./build.mjs', import.meta.url))], {
    stdio: 'inherit',
  });
  if (res.status !== 0) {
    console.error('[outpost] the build failed; see the output above.');
    process.exit(res.status ?? 1);
  }
}
