// `agentTokenFile` (`outpost control-plane --agent-token-file`, used by `outpost dev`): the file
// holds a live agent token before the server listens; a restart keeps a working one and
// replaces one that no longer works (by its successor, audited as the control plane's own act).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { revokeToken, listTokens, startControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'outpost-agent-token-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'agent.token');

const start = () =>
  startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`,
    port: 0,
    dataDir: dir,
    agentTokenFile: file,
    logger,
    daemon: false,
    web: false,
  });

async function agentApiStatus(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/agent/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  return res.status;
}

test('written (0600) before listening, kept while it works, replaced once revoked or garbled', async () => {
  let cp = await start();
  const first = readFileSync(file, 'utf8').trim();
  assert.match(first, /^opa_/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(await agentApiStatus(cp.url, first), 200);
  await cp.close();

  cp = await start();
  assert.equal(readFileSync(file, 'utf8').trim(), first, 'a working token is kept');
  const id = (await listTokens(cp.store)).find((t) => t.kind === 'agent')!.id;
  await revokeToken(cp.store, id);
  await cp.close();

  cp = await start();
  const second = readFileSync(file, 'utf8').trim();
  assert.notEqual(second, first, 'a revoked token is replaced');
  assert.equal(await agentApiStatus(cp.url, second), 200);
  // By its successor, so the dev agent using the file keeps its id (AGENT_ID_TAKEN otherwise).
  const successor = (await listTokens(cp.store)).find((t) => t.kind === 'agent' && t.revokedAt === null);
  assert.equal(successor?.replaces, id);
  // Audited like an ADMIN's createToken, by the control plane itself (no token).
  const audit = await cp.store.db
    .selectFrom('audit_log')
    .select(['actor_token_id', 'actor', 'target', 'outcome'])
    .where('action', '=', 'createToken')
    .orderBy('at')
    .execute();
  assert.deepEqual(audit.at(-1), {
    actor_token_id: null,
    actor: 'control plane (--agent-token-file)',
    target: `agent outpost dev agent replaces ${id} (${successor.id})`,
    outcome: 'ok',
  });
  await cp.close();

  writeFileSync(file, 'garbage\n', { mode: 0o644 });
  cp = await start();
  const third = readFileSync(file, 'utf8').trim();
  assert.match(third, /^opa_/);
  assert.equal(statSync(file).mode & 0o777, 0o600, 'an existing file is made owner-only');
  assert.equal(await agentApiStatus(cp.url, third), 200);
  await cp.close();
});
