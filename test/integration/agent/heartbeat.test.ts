// Heartbeats: a beat lost in transport (the connection closed under it, as a reused keep-alive
// socket the control plane already closed does) is sent again at once, not an interval later.
// Real control plane and agent; between them a plain HTTP relay that cuts the connection of
// the first heartbeat after start-up. The interval is 10 minutes, so a second heartbeat
// request arriving inside this test can only be the retry.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningAgent } from '../../../src/agent/agent.js';
import { startOutpostAgent } from '../../../src/cli/agent-root.js';
import { loadAgentConfig } from '../../../src/agent/config.js';
import { createLogger } from '../../../src/shared/logger.js';
import { testTemporal } from '../../support/temporal.js';
import { startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';

const t = await testTemporal();
let stack: Stack;
let relay: Server;
let agent: RunningAgent | undefined;
const seen = { heartbeats: 0, cut: 0, cutAt: 0 };
let cutNext = false;

before(async () => {
  stack = await startStack({ temporalAddress: t.address, storeLimits: { heartbeatIntervalMs: 600_000 } });
  relay = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.includes('heartbeat(')) {
        seen.heartbeats++;
        if (cutNext) {
          cutNext = false;
          seen.cut++;
          seen.cutAt = Date.now();
          req.socket.destroy();
          return;
        }
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)),
      ) as Record<string, string>;
      fetch(`${stack.cp.url}${req.url}`, { method: req.method!, headers, ...(body.length ? { body } : {}) })
        .then(async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await r.arrayBuffer()));
        })
        .catch(() => req.socket.destroy());
    });
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
});

after(async () => {
  await agent?.stop();
  relay?.closeAllConnections();
  await new Promise((r) => relay?.close(r));
  await stack?.close();
});

async function lastHeartbeatAt(agentId: string): Promise<number> {
  const row = await stack.cp.store.db
    .selectFrom('agents')
    .select('last_heartbeat_at')
    .where('id', '=', agentId)
    .executeTakeFirstOrThrow();
  return Number(row.last_heartbeat_at);
}

test('a heartbeat whose connection is cut is retried at once and stored', async () => {
  // The first beat goes out right after start-up: cut that one.
  cutNext = true;
  const config = loadAgentConfig(
    {
      url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
      temporalAddress: t.address,
      taskQueue: stack.taskQueue,
      dataDir: join(stack.dataDir, 'agent'),
    },
    {},
  );
  agent = await startOutpostAgent({
    config,
    token: stack.agentToken,
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
  const id = agent.agentId;
  await until('the retried heartbeat', () => seen.heartbeats >= 2 || undefined, 30_000, 50);
  assert.equal(seen.cut, 1, 'the first heartbeat was cut');
  // Registration also sets lastHeartbeatAt, so compare with the moment of the cut.
  await until('the retried heartbeat stored', async () => (await lastHeartbeatAt(id)) >= seen.cutAt || undefined);
  // Exactly one retry: the next scheduled beat is 10 minutes away.
  assert.equal(seen.heartbeats, 2);
});
