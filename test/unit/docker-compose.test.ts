// docker-compose.yml is for users (no Docker engine here): check that it parses and keeps its shape.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const compose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
const skip = compose.error ? 'docker-compose is not installed (npm run system:install)' : false;
if (skip) console.warn(`skipping docker-compose validation: ${skip}`);

test('docker-compose.yml validates and has the production services', { skip }, () => {
  const res = spawnSync('docker-compose', ['config', '--services'], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const services = res.stdout.trim().split('\n').sort();
  for (const s of ['agent', 'control-plane', 'postgresql', 'temporal', 'temporal-ui'])
    assert.ok(services.includes(s), s);
});
