// The hand-encoded DescribeNamespace probe `outpost dev` and the test harness wait for Temporal
// with (src/shared/temporal-ready.ts), against the real dev server: it answers for a namespace
// that exists and fails, with the server's reason, for one that does not or a closed port. And
// the supervisor's module graph stays free of the Temporal client it replaced.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../src/shared/net.js';
import { describeNamespaceOk } from '../../src/shared/temporal-ready.js';
import { testTemporal } from '../support/temporal.js';

test('describeNamespaceOk resolves for the dev server namespace', async () => {
  const t = await testTemporal();
  await describeNamespaceOk(t.address, t.namespace, 5_000);
});

test('describeNamespaceOk rejects an unknown namespace with the server status', async () => {
  const t = await testTemporal();
  await assert.rejects(describeNamespaceOk(t.address, 'no-such-namespace-outpost', 5_000), /grpc-status 5\b/);
});

test('describeNamespaceOk rejects a closed port', async () => {
  await assert.rejects(describeNamespaceOk(`127.0.0.1:${await freePort()}`, 'default', 5_000), /ECONNREFUSED/);
});

test('`outpost dev` loads neither @temporalio/client nor grpc-js', () => {
  const dev = resolve(import.meta.dirname, '..', '..', 'src', 'cli', 'commands', 'dev.ts');
  const script = `await import(${JSON.stringify(dev)});
const { createRequire } = await import('node:module');
const loaded = Object.keys(createRequire(import.meta.url).cache ?? {});
console.log(JSON.stringify(loaded.filter((p) => /@temporalio|@grpc/.test(p))));`;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(res.status, 0, res.stderr);
  assert.deepEqual(JSON.parse(res.stdout.trim().split('\n').pop()!), []);
});
