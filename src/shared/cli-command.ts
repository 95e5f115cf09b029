// How Outpost starts another Outpost process (code servers, run workers, standbys, and the
// processes of `outpost dev`): the same form as the running one. Compiled (this module is a .js
// under dist/, scripts/build.mjs) → Node on dist's main.js; from source → Node with tsx on
// src/cli/main.ts. Decided by this module's own file, never by dist/'s presence: tests under tsx
// keep spawning tsx and never pick up a stale build.
import { fileURLToPath } from 'node:url';

/** Whether this process runs the compiled build. */
export const RUNS_COMPILED = import.meta.url.endsWith('.js');

/** The CLI's entry: the build rewrites this literal to dist's main.js. */
export const CLI_ENTRY = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

/**
 * The entry of compiled user-code processes: the CLI, except that the agent's own argv for a run
 * worker or standby skips its option parser (src/cli/user-code-main.ts).
 */
export const USER_CODE_ENTRY = fileURLToPath(new URL('../cli/user-code-main.ts', import.meta.url));

/** Resolves `outpost/sdk` to dist's SDK (package.json exports), the copy compiled workers use. */
export const COMPILED_CONDITION = 'outpost-compiled';

/** Node's arguments (after the executable) that start the CLI for Outpost's own processes. */
export function cliNodeArgs(): string[] {
  return RUNS_COMPILED ? [CLI_ENTRY] : ['--import', import.meta.resolve('tsx'), CLI_ENTRY];
}

/**
 * The command for user-code processes (code servers, run workers, standbys). Compiled, our own
 * modules load natively from dist/ and tsx is registered only when the user's module is about to
 * be imported (src/user-code/common/load-location.ts): through tsx's loader thread, each of the
 * ~100 modules a run worker loads before that cost a round trip, ~60 ms of CPU per worker boot.
 * The user's `outpost/sdk` resolves to dist's copy too (one copy: `instanceof OutpostError` holds
 * across the SDK and the worker). From source, tsx is preloaded: our modules are TypeScript.
 * Works from any cwd: tsx is resolved from here.
 */
export function defaultCliCommand(): string[] {
  return RUNS_COMPILED
    ? [process.execPath, `--conditions=${COMPILED_CONDITION}`, USER_CODE_ENTRY]
    : [process.execPath, '--import', import.meta.resolve('tsx'), CLI_ENTRY];
}

/**
 * Makes sure the user's TypeScript (the location `modulePath`) can be imported. From source tsx
 * is already there. Compiled: when the compile cache covers the location as it stands
 * (src/shared/ts-cache.ts, filled by the agent), the light loader
 * (src/user-code/common/ts-hooks.ts; no tsx, no esbuild: ~130 ms less CPU per boot); else tsx,
 * registered on first use (its CommonJS hooks, then its ESM loader, through tsx's public API; in
 * this order a TypeScript module in a CommonJS package loads as under `--import tsx`, which
 * `import('tsx')` at run time does not do).
 */
let tsxRegistered: Promise<TypeScriptLoader> | undefined;
export type TypeScriptLoader = 'preloaded' | 'light' | 'tsx';
export function ensureTypeScriptLoader(modulePath?: string): Promise<TypeScriptLoader> {
  return (tsxRegistered ??= RUNS_COMPILED ? registerLoader(modulePath) : Promise.resolve('preloaded'));
}

async function registerLoader(modulePath: string | undefined): Promise<TypeScriptLoader> {
  if (modulePath && process.env.OUTPOST_TS_LOADER !== 'tsx') {
    const { tsCacheDir, usableManifest } = await import('./ts-cache.js');
    const cacheDir = tsCacheDir();
    const manifest = usableManifest(cacheDir, modulePath);
    if (manifest) {
      const { register } = await import('node:module');
      register('../user-code/common/ts-hooks.js', import.meta.url, {
        data: { cacheDir, esbuildVersion: manifest.esbuild },
      });
      // As tsx does: stack traces point at the .ts (each transpiled file has an inline map).
      process.setSourceMapsEnabled(true);
      // require() of a .ts does not pass through those hooks on Node 20.
      (await import('../user-code/common/ts-require.js')).registerTypeScriptRequire();
      return 'light';
    }
  }
  (await import('tsx/cjs/api')).register();
  (await import('tsx/esm/api')).register();
  return 'tsx';
}
