// Issue 12 ("one source per fact"): command-based code servers once got a weaker
// credential-stripping rule than module-based ones. Both are spawned here by the agent's own
// spawnCodeServer (real child processes), the same CLI code server behind either spec, from
// an agent environment full of credentials; what each process was exec'd with
// (/proc/<pid>/environ) must be the same, and hold no credential.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { killServer, spawnCodeServer, type ServerProcess } from '../../../src/agent/code-server-spawn.js';
import { defaultCliCommand } from '../../../src/agent/launchers/detached-spawn.js';
import { noIsolation } from '../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';
import type { CodeLocationSpec } from '../../../src/shared/work-items.js';

const MODULE = resolve('test/fixtures/user-code/edge-location/definitions.ts');
const AGENT_TOKEN = 'opa_agent_token_value_0123456789';

/** The agent's own environment: what it runs with, credentials included. */
const agentEnv: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  LANG: 'C.UTF-8',
  OUTPOST_TOKEN: 'opu_admin_token_value_0123456789',
  OUTPOST_AGENT_TOKEN: AGENT_TOKEN,
  OUTPOST_LOG_LEVEL: 'warn',
  OUTPOST_DATABASE_URL: 'postgres://u:p@db/outpost',
  GITHUB_TOKEN: 'ghp_x',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  PGPASSWORD: 'pg-secret',
  DATABASE_URL: 'postgres://u:p@db/app',
  INNOCENT_LOOKING: `bearer ${AGENT_TOKEN}`,
  HARMLESS: 'kept',
};

/** The location's own env (the deployer's), the same for both specs. */
const locationEnv = { LOCATION_SETTING: 'on', OUTPOST_TOKEN: 'smuggled', MY_API_KEY: 'deployer-chose-it' };

function environOf(child: ChildProcess): Map<string, string> {
  const raw = readFileSync(`/proc/${child.pid}/environ`, 'utf8');
  const entries = raw
    .split('\0')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as [string, string]);
  return new Map(entries);
}

async function spawnWith(spec: CodeLocationSpec): Promise<{ server: ServerProcess; env: Map<string, string> }> {
  let child: ChildProcess | undefined;
  const server = await spawnCodeServer(
    {
      cli: defaultCliCommand(),
      isolation: noIsolation,
      env: agentEnv,
      secrets: [AGENT_TOKEN],
      startTimeoutMs: 60_000,
      logger: createLogger({ name: 'code-server-env', level: 'silent' }),
    },
    spec,
    1,
    (c) => (child = c),
  );
  return { server, env: environOf(child!) };
}

test('a command-based and a module-based code server are exec’d with the same credential-free env', async () => {
  const [node, ...pre] = defaultCliCommand();
  const byModule = await spawnWith({ name: 'env-probe', module: MODULE, env: locationEnv });
  const byCommand = await spawnWith({
    name: 'env-probe',
    command: [node!, ...pre, 'code-server', '--module', MODULE, '--port', '{port}', '--location', 'env-probe'],
    env: locationEnv,
  });
  try {
    assert.deepEqual(Object.fromEntries(byCommand.env), Object.fromEntries(byModule.env));
    for (const env of [byModule.env, byCommand.env]) {
      for (const name of [
        'OUTPOST_TOKEN',
        'OUTPOST_AGENT_TOKEN',
        'OUTPOST_DATABASE_URL',
        'GITHUB_TOKEN',
        'AWS_SECRET_ACCESS_KEY',
        'PGPASSWORD',
        'DATABASE_URL',
        'INNOCENT_LOOKING',
      ]) {
        assert.equal(env.has(name), false, `${name} reached user code`);
      }
      for (const value of env.values()) assert.ok(!value.includes(AGENT_TOKEN), 'the agent token reached user code');
      assert.equal(env.get('HARMLESS'), 'kept');
      assert.equal(env.get('OUTPOST_LOG_LEVEL'), 'warn');
      assert.equal(env.get('LOCATION_SETTING'), 'on');
      assert.equal(env.get('MY_API_KEY'), 'deployer-chose-it');
    }
  } finally {
    await killServer(byModule.server);
    await killServer(byCommand.server);
  }
});
