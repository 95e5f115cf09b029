// Which paths a non-ADMIN may deploy: resolved with realpath against real files and symlinks.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkDeploy } from '../../../src/control-plane/services/deploy-policy.js';
import { isOutpostError } from '../../../src/shared/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-policy-'));
const root = join(dir, 'root');
mkdirSync(join(root, 'a'), { recursive: true });
writeFileSync(join(root, 'a', 'defs.ts'), '');
symlinkSync(dir, join(root, 'up'));
after(() => rmSync(dir, { recursive: true, force: true }));
const policy = { moduleRoots: [root], baseDir: root };

const code = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(isOutpostError(e));
    return e.errorName;
  }
};

test('EDITOR: modules under the roots pass, including ones not created yet', () => {
  assert.equal(
    code(() => checkDeploy({ module: 'a/defs.ts' }, 'EDITOR', policy)),
    undefined,
  );
  assert.equal(
    code(() => checkDeploy({ module: join(root, 'new/defs.ts') }, 'EDITOR', policy)),
    undefined,
  );
  assert.equal(
    code(() => checkDeploy({ module: 'defs.ts', workingDirectory: 'a' }, 'EDITOR', policy)),
    undefined,
  );
});

test('EDITOR: absolute, `..` and symlink escapes are refused', () => {
  for (const spec of [
    { module: '/etc/shadow' },
    { module: '../x.ts' },
    { module: 'a/../../x.ts' },
    { module: 'up/x.ts' },
    { module: 'up/root/../x.ts' },
    { module: 'x.ts', workingDirectory: '/tmp' },
    { module: 'a/defs.ts', workingDirectory: 'up' },
  ]) {
    assert.equal(
      code(() => checkDeploy(spec, 'EDITOR', policy)),
      'PATH_NOT_ALLOWED',
      JSON.stringify(spec),
    );
  }
});

test('commands and code-loading env need ADMIN; ADMIN may deploy anything', () => {
  assert.equal(
    code(() => checkDeploy({ command: ['sh', '-c', 'id'] }, 'EDITOR', policy)),
    'ROLE_REQUIRED',
  );
  // ESBUILD_BINARY_PATH: esbuild, run in user code's processes for a file the compile cache
  // lacks, executes it (`<path> --service=… --ping`), so it is a command outside the roots.
  for (const k of [
    'NODE_OPTIONS',
    'LD_PRELOAD',
    'PYTHONPATH',
    'PATH',
    'node_options',
    'ESBUILD_BINARY_PATH',
    'OPENSSL_CONF',
    'GCONV_PATH',
  ]) {
    assert.equal(
      code(() => checkDeploy({ module: 'a/defs.ts', env: { [k]: 'x' } }, 'EDITOR', policy)),
      'ROLE_REQUIRED',
    );
  }
  assert.equal(
    code(() => checkDeploy({ module: 'a/defs.ts', env: { GREETING: 'hi' } }, 'EDITOR', policy)),
    undefined,
  );
  assert.equal(
    code(() => checkDeploy({ command: ['sh'], module: '/etc/shadow' }, 'ADMIN', policy)),
    undefined,
  );
});

test('Dagster pointers: an EDITOR needs the interpreter, working directory and file under the roots', () => {
  // A venv's bin/python is a symlink out of the roots (to the system Python): its name is not followed.
  mkdirSync(join(root, 'venv', 'bin'), { recursive: true });
  symlinkSync('/usr/bin/python3', join(root, 'venv', 'bin', 'python'));
  const venv = join(root, 'venv', 'bin', 'python');
  for (const dagster of [
    { python: venv, moduleName: 'defs' },
    { python: 'venv/bin/python', pythonFile: 'a/defs.py' },
    { python: venv, pythonFile: 'defs.py', workingDirectory: 'a' },
  ]) {
    assert.equal(
      code(() => checkDeploy({ dagster }, 'EDITOR', policy)),
      undefined,
      JSON.stringify(dagster),
    );
  }
  for (const [dagster, field] of [
    [{ python: '/usr/bin/python3', moduleName: 'defs' }, 'dagster.python'],
    [{ python: 'up/x/bin/python', moduleName: 'defs' }, 'dagster.python'],
    [{ python: venv, pythonFile: '/etc/x.py' }, 'dagster.pythonFile'],
    [{ python: venv, pythonFile: '../../x.py', workingDirectory: 'a' }, 'dagster.pythonFile'],
    [{ python: venv, moduleName: 'defs', workingDirectory: '/tmp' }, 'dagster.workingDirectory'],
  ] as const) {
    let data: unknown;
    try {
      checkDeploy({ dagster }, 'EDITOR', policy);
    } catch (e) {
      assert.ok(isOutpostError(e, 'PATH_NOT_ALLOWED'), String(e));
      data = e.data;
    }
    assert.deepEqual(data, { field }, JSON.stringify(dagster));
  }
  // A module/package is imported from the working directory: the agent's own must be under the roots too.
  assert.equal(
    code(() =>
      checkDeploy({ dagster: { python: venv, moduleName: 'defs' } }, 'EDITOR', { moduleRoots: [root], baseDir: dir }),
    ),
    'PATH_NOT_ALLOWED',
  );
  assert.equal(
    code(() => checkDeploy({ dagster: { python: '/usr/bin/python3', pythonFile: '/etc/x.py' } }, 'ADMIN', policy)),
    undefined,
  );
  assert.equal(
    code(() =>
      checkDeploy({ dagster: { python: venv, moduleName: 'm' }, env: { PYTHONPATH: '/x' } }, 'EDITOR', policy),
    ),
    'ROLE_REQUIRED',
  );
});
