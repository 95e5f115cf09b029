#!/bin/sh
":" //; MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" exec node -- "$0" "$@"
// The `outpost` command: the compiled CLI (dist/, `npm run build`) when it is present and newer
// than its sources, else the TypeScript CLI through tsx's loader (a development tree). Set
// OUTPOST_FROM_SOURCE=1 to force the sources.
//
// Run as a program, the file is a shell script for its first two lines (to Node they are a
// hashbang and a string then a comment): it execs Node on itself with MALLOC_ARENA_MAX=2 unless
// the environment sets it. glibc reads it once, at process start, so only the process's starter
// can set it: without it every thread that mallocs (Temporal core's) keeps its own arena, ~25 MB
// of an idle agent (bench/footprint-dev.ts). `exec` replaces the shell: no extra process. The
// `--` ends Node's own options: Node 20 otherwise takes the CLI's `--env-file <path>` as its
// own, and exits 9 ("node: <path>: not found") before the CLI can name the problem.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildState } from './build-state.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
if (process.env.OUTPOST_FROM_SOURCE !== '1' && buildState(root) === 'fresh') {
  await import(join(root, 'dist', 'src', 'cli', 'main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
