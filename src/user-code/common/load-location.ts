// Loads a definitions module: its default export must be `defineLocation({...})`. TypeScript or
// built JS. In a compiled process a TypeScript location whose graph the compile cache holds linked
// (src/shared/ts-link.ts) is imported from the cache as it is, with no module hooks; otherwise a
// loader is registered first (the light loader's hooks over the cache, or tsx; cli-command.ts).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureTypeScriptLoader, RUNS_COMPILED } from '../../shared/cli-command.js';
import { OutpostError } from '../../shared/errors.js';
import type { LocationDef } from '../sdk/definitions.js';
import { withTimeout } from './with-timeout.js';

/** Default time a module may take to import (top-level await included). */
export const DEFAULT_LOAD_TIMEOUT_MS = 30_000;

/** How a location is loaded. */
export interface LoadOptions {
  /**
   * Import its packages inlined in the linked graph when the cache has them so (ts-link-packages.ts):
   * for run workers and standbys, which start once per run. Default false: a code server shares
   * the location's packages with Outpost's own imports (its zod turns the user's schemas into JSON
   * Schema, reading zod's registry of descriptions), and it starts once.
   */
  inlinePackages?: boolean;
}

export async function loadLocation(
  modulePath: string,
  timeoutMs = DEFAULT_LOAD_TIMEOUT_MS,
  opts: LoadOptions = {},
): Promise<LocationDef> {
  const abs = resolve(modulePath);
  if (!existsSync(abs)) throw new OutpostError('USER_CODE_LOAD_FAILED', { detail: `no file at ${abs}` });
  // The SDK before the loader: once module hooks are registered every import costs round trips
  // to their thread. The location's `outpost/sdk` is this same module. (The SDK no longer loads
  // zod: a location that imports zod and is not in the linked compile cache loads it through
  // the hooks, slower but the same.)
  await import('../sdk/index.js');
  const url =
    (await linkedUrl(abs, opts.inlinePackages ?? false)) ??
    (await ensureTypeScriptLoader(abs), pathToFileURL(abs).href);
  const mod = (await withTimeout(
    () => import(url) as Promise<Record<string, unknown>>,
    timeoutMs,
    `importing ${modulePath}`,
  )) as { default?: unknown };
  const loc = mod.default as Partial<LocationDef> | undefined;
  if (!loc || typeof loc !== 'object' || loc.kind !== 'location') {
    throw new OutpostError('USER_CODE_LOAD_FAILED', {
      detail: `${modulePath} must \`export default defineLocation({ jobs: [...] })\``,
    });
  }
  return loc as LocationDef;
}

/**
 * The location's linked entry in the compile cache, when this compiled process may import it
 * without hooks (OUTPOST_TS_LOADER=tsx or =hooks says not to). As under the hooks, stack traces
 * are source-mapped to the .ts and require() of a .ts works.
 */
async function linkedUrl(abs: string, inlined: boolean): Promise<string | undefined> {
  const choice = process.env.OUTPOST_TS_LOADER;
  if (!RUNS_COMPILED || choice === 'tsx' || choice === 'hooks') return undefined;
  const { linkedEntryUrl, tsCacheDir } = await import('../../shared/ts-cache.js');
  const url = linkedEntryUrl(tsCacheDir(), abs, { inlined });
  if (!url) return undefined;
  (await import('./ts-require.js')).registerTypeScriptRequire();
  // Enabled last: modules compiled from here on have their maps read (ours need not).
  process.setSourceMapsEnabled(true);
  return url;
}
