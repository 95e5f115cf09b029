// A file a CLI flag names (--token-file, --env-file) that cannot be read: one coded error for
// both, naming the flag, why, the absolute path looked at, and what the flag wants.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { resolveTarget } from '../../../src/cli/client.js';
import { deployInput } from '../../../src/cli/commands/locations.js';
import { isOutpostError } from '../../../src/shared/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-flag-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const refused = (pattern: RegExp) => (err: unknown) =>
  isOutpostError(err, 'CONFIG_INVALID') && pattern.test(err.message) ? true : assert.fail(String(err));

test('a missing --token-file: CONFIG_INVALID saying so, where, and what to pass', () => {
  const missing = join(dir, 'user.token');
  assert.throws(
    () => resolveTarget({ tokenFile: missing }, {}),
    refused(new RegExp(`--token-file ${missing}: no such file \\(${missing}\\); pass a file holding the user token`)),
  );
});

test('a directory as --env-file: CONFIG_INVALID saying so, where, and what to pass', () => {
  assert.throws(
    () => deployInput('shop', { module: 'x.ts', envFile: dir }),
    refused(new RegExp(`--env-file ${dir}: a directory, not a file \\(${dir}\\); pass a file of NAME=value lines`)),
  );
});
