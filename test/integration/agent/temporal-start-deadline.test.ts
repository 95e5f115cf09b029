// The agent's start reaches Temporal within a deadline and says, with a code, when it cannot: a
// frontend that holds the connection but never answers (a real dev server, stopped with SIGSTOP)
// held the start forever in the search-attribute check and in NativeConnection.connect, and a
// frontend that is gone surfaced as a raw gRPC UNAVAILABLE. A dev server of this test's own, so
// freezing it stops no other test.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { checkSearchAttributes } from '../../../src/agent/search-attribute-check.js';
import { connectWithin, whenTemporalAnswers } from '../../../src/agent/temporal-reach.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { createLogger } from '../../../src/shared/logger.js';
import { startDevServer, type DevServer } from '../../../src/shared/temporal-dev-server.js';
import { until } from '../../support/wait.js';

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

/** How the agent's start ends when every try fails as `connect` does: thrown at once, or retried until aborted. */
async function startVerdict(address: string, connect: () => Promise<NativeConnection>): Promise<unknown> {
  const tries = { n: 0 };
  const stop = new AbortController();
  const bound = setTimeout(() => stop.abort(), 20_000);
  try {
    await whenTemporalAnswers(
      address,
      () => {
        tries.n++;
        return connectWithin(address, connect, (c) => c.close(), 10_000);
      },
      log,
      stop.signal,
    );
    return 'connected';
  } catch (err) {
    return { err, tries: tries.n, aborted: stop.signal.aborted };
  } finally {
    clearTimeout(bound);
  }
}

test('a TLS misconfiguration ends the start at once instead of waiting for Temporal: TLS to a plaintext frontend, a server certificate of an unknown CA', async () => {
  const plain = (await startVerdict(server.address, () =>
    NativeConnection.connect({ address: server.address, tls: true }),
  )) as { err: unknown; tries: number; aborted: boolean };
  assert.equal(plain.tries, 1, `one try: ${String(plain.err)}`);
  assert.ok(!isOutpostError(plain.err, 'TEMPORAL_UNAVAILABLE'), String(plain.err));

  // A real TLS frontend whose certificate no trusted CA signed (self-signed, made here).
  const dir = mkdtempSync(join(tmpdir(), 'outpost-tls-'));
  const tls = createTlsServer(
    (() => {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      return {
        key: readFileSync(join(dir, 'key.pem')),
        cert: readFileSync(join(dir, 'cert.pem')),
        ALPNProtocols: ['h2'],
      };
    })(),
    (s) => s.on('error', () => undefined),
  );
  tls.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()));
  const address = `127.0.0.1:${(tls.address() as { port: number }).port}`;
  try {
    const unknownCa = (await startVerdict(address, () => NativeConnection.connect({ address, tls: true }))) as {
      err: unknown;
      tries: number;
    };
    assert.equal(unknownCa.tries, 1, `one try: ${String(unknownCa.err)}`);
    assert.ok(isOutpostError(unknownCa.err, 'TEMPORAL_TLS_FAILED'), String(unknownCa.err));
    assert.ok(isOutpostError(plain.err, 'TEMPORAL_TLS_FAILED'), String(plain.err));
  } finally {
    tls.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Each thread's state letter (/proc/<pid>/task/<tid>/stat, after the command's closing paren):
 * 'T' once a SIGSTOP has taken effect on it.
 */
function threadStates(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  });
}

test('a Temporal that holds the connection and never answers: the check and a new connection end with TEMPORAL_UNAVAILABLE', async () => {
  const pid = server.process.pid!;
  process.kill(pid, 'SIGSTOP');
  try {
    // kill() returns once the signal is queued; on a loaded host a thread of the server can still
    // run for a moment (CI once saw the check answered 15 ms later). Every thread stopped first.
    await until('every thread of the dev server stopped', () => threadStates(pid).every((s) => s === 'T'), 10_000, 5);
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
