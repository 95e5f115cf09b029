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
  for (const k of ['NODE_OPTIONS', 'LD_PRELOAD', 'PYTHONPATH', 'PATH', 'node_options']) {
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
