// `outpost locations deploy --env-file / --env`: the location's env (what a Dagster EnvVar reads)
// from a file of NAME=VALUE lines and repeatable flags; a credential is refused on the command line.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { deployInput } from '../../../src/cli/commands/locations.js';
import { isOutpostError } from '../../../src/shared/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-env-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const dagster = { dagster: true, python: '/venv/bin/python', pythonFile: 'defs.py' };

test('--env-file lines, then --env pairs, are the input env; none given sends no env', () => {
  const file = join(dir, 'shop.env');
  writeFileSync(file, '# warehouse\nWH_USER=alice\n\nexport WH_PASSWORD=p=w#1\r\nREGION=us\n');
  const input = deployInput('shop', { ...dagster, envFile: file, env: ['REGION=eu', 'EMPTY='] });
  assert.deepEqual(input.env, { WH_USER: 'alice', WH_PASSWORD: 'p=w#1', REGION: 'eu', EMPTY: '' });
  assert.equal((input.dagster as { pythonFile: string }).pythonFile, 'defs.py');
  assert.equal('env' in deployInput('shop', { ...dagster, env: [] }), false);
  assert.deepEqual(deployInput('hello', { module: 'x.ts', env: ['A=1'] }), {
    name: 'hello',
    module: 'x.ts',
    command: undefined,
    workingDirectory: undefined,
    env: { A: '1' },
  });
});

test('a credential-named --env is refused (ps shows command lines); a malformed line names its place', () => {
  assert.throws(
    () => deployInput('shop', { ...dagster, env: ['WH_PASSWORD=hunter2'] }),
    (e) =>
      isOutpostError(e, 'INVALID_ARGUMENT') &&
      /--env WH_PASSWORD: .*--env-file/.test(e.message) &&
      !/hunter2/.test(e.message),
  );
  const bad = join(dir, 'bad.env');
  writeFileSync(bad, 'A=1\nnot a pair\n');
  assert.throws(
    () => deployInput('shop', { ...dagster, envFile: bad }),
    (e) => isOutpostError(e, 'INVALID_ARGUMENT') && /bad\.env line 2: expected NAME=VALUE/.test(e.message),
  );
});
