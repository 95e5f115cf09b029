#!/usr/bin/env node
// The `outpost` command: the compiled CLI (dist/, `npm run build`) when it is present and newer
// than its sources, else the TypeScript CLI through tsx's loader (a development tree). Set
// OUTPOST_FROM_SOURCE=1 to force the sources.
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
