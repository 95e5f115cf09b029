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

/** Resolves `outpost/sdk` to dist's SDK (package.json exports), the copy compiled workers use. */
export const COMPILED_CONDITION = 'outpost-compiled';

/** Node's arguments (after the executable) that start the CLI for Outpost's own processes. */
export function cliNodeArgs(): string[] {
  return RUNS_COMPILED ? [CLI_ENTRY] : ['--import', import.meta.resolve('tsx'), CLI_ENTRY];
}

/**
 * The command for user-code processes (code servers, run workers, standbys): they import the
 * user's definitions, often TypeScript, so tsx is loaded either way. Compiled, our own modules
 * come from dist/ and so does the user's `outpost/sdk` (one copy: `instanceof OutpostError`
 * holds across the SDK and the worker). Works from any cwd: tsx is resolved from here.
 */
export function defaultCliCommand(): string[] {
  const tsx = ['--import', import.meta.resolve('tsx')];
  return RUNS_COMPILED
    ? [process.execPath, `--conditions=${COMPILED_CONDITION}`, ...tsx, CLI_ENTRY]
    : [process.execPath, ...tsx, CLI_ENTRY];
}
