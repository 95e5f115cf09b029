// Loads a definitions module: its default export must be `defineLocation({...})`. TypeScript or
// built JS: tsx is registered first (at once in a compiled process, where it is not preloaded).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureTypeScriptLoader } from '../../shared/cli-command.js';
import { OutpostError } from '../../shared/errors.js';
import type { LocationDef } from '../sdk/definitions.js';
import { withTimeout } from './with-timeout.js';

/** Default time a module may take to import (top-level await included). */
export const DEFAULT_LOAD_TIMEOUT_MS = 30_000;

export async function loadLocation(modulePath: string, timeoutMs = DEFAULT_LOAD_TIMEOUT_MS): Promise<LocationDef> {
  const abs = resolve(modulePath);
  if (!existsSync(abs)) throw new OutpostError('USER_CODE_LOAD_FAILED', { detail: `no file at ${abs}` });
  // The SDK (and zod under it, ~100 modules) before the loader: once module hooks are
  // registered every import costs round trips to their thread. The location's `outpost/sdk`
  // is this same module.
  await import('../sdk/index.js');
  await ensureTypeScriptLoader(abs);
  const mod = (await withTimeout(
    () => import(pathToFileURL(abs).href) as Promise<Record<string, unknown>>,
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
