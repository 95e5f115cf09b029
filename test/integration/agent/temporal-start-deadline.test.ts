// The agent's start reaches Temporal within a deadline and says, with a code, when it cannot: a
// frontend that holds the connection but never answers (a real dev server, stopped with SIGSTOP)
// held the start forever in the search-attribute check and in NativeConnection.connect, and a
// frontend that is gone surfaced as a raw gRPC UNAVAILABLE. A dev server of this test's own, so
// freezing it stops no other test.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { checkSearchAttributes } from '../../../src/agent/search-attribute-check.js';
import { connectWithin } from '../../../src/agent/temporal-reach.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { createLogger } from '../../../src/shared/logger.js';
import { startDevServer, type DevServer } from '../../../src/shared/temporal-dev-server.js';

const log = createLogger({ name: 'test', level: 'silent' });
let server: DevServer;
let client: Connection;
let native: NativeConnection;

before(async () => {
  server = await startDevServer();
  client = await Connection.connect({ address: server.address });
  native = await NativeConnection.connect({ address: server.address });
  // Outpost's attributes are registered on the dev server: the check passes while it answers.
  await checkSearchAttributes(client, 'default', log, server.address);
  await checkSearchAttributes(native, 'default', log, server.address);
});
after(async () => {
  if (server.process.exitCode === null && server.process.signalCode === null)
    process.kill(server.process.pid!, 'SIGCONT');
  await client?.close();
  await native?.close().catch(() => undefined);
  await server?.stop(1_000);
});

/** What `p` settled with, or 'still waiting' after 60 s (far past the 1 s deadlines below). */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting after 60 s'), 60_000)));
  try {
    return await Promise.race([
      p.then(
        () => 'resolved',
        (e: unknown) => e,
      ),
      bound,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function assertUnavailable(err: unknown, what: string): void {
  assert.ok(isOutpostError(err, 'TEMPORAL_UNAVAILABLE'), `${what}: expected TEMPORAL_UNAVAILABLE, got ${String(err)}`);
  assert.ok(err.message.includes(server.address), `${what}: the detail names the address: ${err.message}`);
  assert.match(err.hint, /--temporal-address/);
}

test('a Temporal that holds the connection and never answers: the check and a new connection end with TEMPORAL_UNAVAILABLE', async () => {
  process.kill(server.process.pid!, 'SIGSTOP');
  try {
    assertUnavailable(await outcome(checkSearchAttributes(client, 'default', log, server.address, 1_000)), 'client');
    assertUnavailable(await outcome(checkSearchAttributes(native, 'default', log, server.address, 1_000)), 'native');
    const connecting = connectWithin(
      server.address,
      () => NativeConnection.connect({ address: server.address }),
      (c) => c.close(),
      1_000,
    );
    assertUnavailable(await outcome(connecting), 'connect');
  } finally {
    process.kill(server.process.pid!, 'SIGCONT');
  }
});

test('a Temporal that is gone: TEMPORAL_UNAVAILABLE, not a raw gRPC UNAVAILABLE', async () => {
  await server.stop(1_000);
  assertUnavailable(await outcome(checkSearchAttributes(client, 'default', log, server.address, 1_000)), 'client');
  assertUnavailable(await outcome(checkSearchAttributes(native, 'default', log, server.address, 1_000)), 'native');
});
