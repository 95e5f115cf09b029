// Whether dist/ (the compiled build, scripts/build.mjs) is present and newer than everything it
// is built from. The `outpost` bin runs dist only then, and `npm start` rebuilds otherwise
// (scripts/ensure-build.mjs). A tree shipped without sources (an image) counts as fresh.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The source trees compiled into dist/ (same layout under it). */
export const COMPILED_DIRS = ['src', 'workflows', 'activities'];
/** Written last by the build: its mtime is the build's. */
export const STAMP = '.build-stamp';
/** Files outside the trees that change what the build writes. */
const INPUTS = ['package-lock.json', 'scripts/build.mjs', 'bin/build-state.mjs'];

/**
 * Whether anything under dir (files and directories: a deleted file changes its directory's
 * mtime) is newer than `built`. Every `outpost` start runs this over ~300 files, so it stops at
 * the first newer one and joins paths by hand (path.join normalizes each: a fifth of the walk).
 */
function newerThan(dir, built) {
  if (statSync(dir).mtimeMs > built) return true;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === '__pycache__' || e.name === 'node_modules') continue;
    const p = `${dir}/${e.name}`;
    if (e.isDirectory() ? newerThan(p, built) : statSync(p).mtimeMs > built) return true;
  }
  return false;
}

/** 'fresh' | 'missing' | 'stale', for the install at root and its build in out (default root/dist). */
export function buildState(root, out = join(root, 'dist')) {
  const stamp = join(out, STAMP);
  if (!existsSync(stamp)) return 'missing';
  const built = statSync(stamp).mtimeMs;
  for (const d of COMPILED_DIRS) {
    const p = join(root, d);
    if (existsSync(p) && newerThan(p, built)) return 'stale';
  }
  for (const f of INPUTS) {
    const p = join(root, f);
    if (existsSync(p) && statSync(p).mtimeMs > built) return 'stale';
  }
  return 'fresh';
}
