// The lookup order of the Temporal CLI: env, cache dir, PATH.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findTemporalCli, temporalCacheDir } from '../../src/shared/temporal-cli.js';
import { isOutpostError } from '../../src/shared/errors.js';

function fakeCli(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'temporal');
  writeFileSync(path, '#!/bin/sh\necho "temporal version 0.0.0-test"\n');
  chmodSync(path, 0o755);
  return path;
}

test('OUTPOST_TEMPORAL_BIN wins, then the cache dir, then PATH', () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-cli-'));
  const onPath = fakeCli(join(root, 'path'));
  const env = { OUTPOST_CACHE_DIR: join(root, 'cache'), PATH: join(root, 'path') };
  assert.deepEqual(findTemporalCli(env), { path: onPath, source: 'path' });
  const cached = fakeCli(temporalCacheDir(env));
  assert.deepEqual(findTemporalCli(env), { path: cached, source: 'cache' });
  const explicit = fakeCli(join(root, 'explicit'));
  assert.deepEqual(findTemporalCli({ ...env, OUTPOST_TEMPORAL_BIN: explicit }), { path: explicit, source: 'env' });
});

test('nothing found returns undefined; a bad OUTPOST_TEMPORAL_BIN is a clear error', () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-cli-'));
  assert.equal(findTemporalCli({ OUTPOST_CACHE_DIR: root, PATH: root }), undefined);
  assert.throws(
    () => findTemporalCli({ OUTPOST_TEMPORAL_BIN: join(root, 'missing') }),
    (e: unknown) => isOutpostError(e, 'TEMPORAL_CLI_NOT_FOUND'),
  );
});
