// The one rule for what environment user code gets (src/shared/child-env.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { credentialFreeEnv, isCredentialName } from '../../../src/shared/child-env.js';
import { stripCredentials } from '../../../src/user-code/common/strip-credentials.js';

const TOKEN = 'outpost_agent_0123456789abcdef';

describe('credentialFreeEnv', () => {
  test('drops every credential-like name, every agent OUTPOST_* setting and any value holding the token', () => {
    const env = credentialFreeEnv(
      {
        PATH: '/bin',
        HOME: '/root',
        OUTPOST_AGENT_TOKEN: TOKEN,
        OUTPOST_AGENT_TOKEN_FILE: '/x/agent.token',
        OUTPOST_URL: 'http://127.0.0.1:3000',
        OUTPOST_DATABASE_URL: 'postgres://u:p@h/db',
        OUTPOST_TEMPORAL_TLS_KEY: '/etc/key.pem',
        OUTPOST_LOG_LEVEL: 'info',
        // The compile cache's settings: the run worker reads them (src/shared/ts-cache.ts).
        OUTPOST_TS_CACHE_DIR: '/tmp/c',
        OUTPOST_TS_LOADER: 'tsx',
        GITHUB_TOKEN: 'ghp_x',
        AWS_SECRET_ACCESS_KEY: 'k',
        PGPASSWORD: 'p',
        DATABASE_URL: 'postgres://u:p@h/db',
        SSH_AUTH_SOCK: '/tmp/ssh',
        INNOCENT_NAME: `Bearer ${TOKEN}`,
      },
      { OUTPOST_RUN_ID: 'r1', LOCATION_SETTING: 'yes', OUTPOST_TOKEN: 'deployer-set', SMUGGLED: TOKEN },
      { secrets: [TOKEN] },
    );
    assert.deepEqual(env, {
      PATH: '/bin',
      HOME: '/root',
      OUTPOST_LOG_LEVEL: 'info',
      OUTPOST_TS_CACHE_DIR: '/tmp/c',
      OUTPOST_TS_LOADER: 'tsx',
      OUTPOST_RUN_ID: 'r1',
      LOCATION_SETTING: 'yes',
    });
  });

  test('a location may set its own non-Outpost secrets (the deployer chose them)', () => {
    assert.deepEqual(credentialFreeEnv({}, { API_KEY: 'mine' }), { API_KEY: 'mine' });
  });

  test('the in-process defence strips the same credential names', () => {
    const env: NodeJS.ProcessEnv = { OUTPOST_AGENT_TOKEN: 'a', OUTPOST_PROBE_PLAIN: 'v', MY_SECRET: 's' };
    assert.deepEqual(stripCredentials(env).sort(), ['MY_SECRET', 'OUTPOST_AGENT_TOKEN']);
    assert.deepEqual(env, { OUTPOST_PROBE_PLAIN: 'v' });
    assert.equal(isCredentialName('OUTPOST_CODE_SERVER_PORT'), false);
  });
});
