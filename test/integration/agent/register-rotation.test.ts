// The agent's own registration (src/agent/register-agent.ts, the real client, a real control
// plane): an agent whose data dir holds an id bound to another token stops at once with
// AGENT_ID_TAKEN (retrying cannot help; the error says how to rotate) instead of retrying for
// hours; restarted with a token an ADMIN created as its old token's successor, it keeps its id.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readAgentId } from '../../../src/agent/agent-identity.js';
import { createControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { register } from '../../../src/agent/register-agent.js';
import { createToken, revokeToken, type ControlPlane } from '../../../src/control-plane/index.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { createLogger } from '../../../src/shared/logger.js';
import { startBareControlPlane, type BareControlPlane } from '../../support/bare-control-plane.js';

const logger = createLogger({ name: 'test', level: 'silent' });
let dir: string;
let cp: ControlPlane;
let bare: BareControlPlane | undefined;

before(async () => {
  bare = await startBareControlPlane('rotation', logger);
  ({ cp, dir } = bare);
});
after(async () => {
  await bare?.close();
});

const registerWith = (token: string, dataDir: string, signal: AbortSignal) =>
  register(
    createControlPlaneClient({ url: cp.url, token }),
    { dataDir, name: 'rotating', taskQueue: 'outpost-agent' },
    logger,
    signal,
  );

test('a revoked token’s agent restarted with an unrelated token stops; with its successor it keeps its id', async () => {
  const dataDir = join(dir, 'agent');
  const old = await createToken(cp.store, 'agent', 'old');
  const first = await registerWith(old.token, dataDir, AbortSignal.timeout(60_000));
  assert.equal(readAgentId(dataDir), first.agentId);
  await revokeToken(cp.store, old.id);

  // A guard only: before the fix this retried (for ~41 h) until the signal ended it.
  const guard = new AbortController();
  const timer = setTimeout(() => guard.abort(), 60_000);
  try {
    const unrelated = await createToken(cp.store, 'agent', 'unrelated');
    await assert.rejects(registerWith(unrelated.token, dataDir, guard.signal), (err) =>
      isOutpostError(err, 'AGENT_ID_TAKEN'),
    );
  } finally {
    clearTimeout(timer);
  }

  const successor = await createToken(cp.store, 'agent', 'successor', { replaces: old.id });
  const again = await registerWith(successor.token, dataDir, AbortSignal.timeout(60_000));
  assert.equal(again.agentId, first.agentId);
  assert.equal(readAgentId(dataDir), first.agentId);
});
