// The log shipper while a worker writes stdout in a loop: a whole chunk written after the shipper
// caught up, while a chunk is still unanswered, is sent before that answer comes (the control
// plane gets its next body while it stores one), not only once the pass has drained its window.
// Less than a chunk written meanwhile waits for the window to empty and then goes. Real control
// plane on a socket (node-server.ts), real agent client over node:http, SQLite; the stored bytes
// are the spool's.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createControlPlaneClient, type ControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { LOG_CHUNK, SpoolShipper } from '../../../src/agent/spool-shipper.js';
import { createNodeServer } from '../../../src/control-plane/http/node-server.js';
import { DEFAULT_API_LIMITS } from '../../../src/control-plane/limits.js';
import { createLogger } from '../../../src/shared/logger.js';
import { openHarness, runOfAgentA, type Harness } from '../../support/control-plane-harness.js';
import { storedStdoutBytes } from '../../support/stored-logs.js';

const logger = createLogger({ name: 'test', level: 'silent' });
let dir: string;
let h: Harness;
let server: Server;
let real: ControlPlaneClient;
let agentId: string;
let runId: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-log-relook-'));
  h = await openHarness(`sqlite:${join(dir, 'db.sqlite')}`);
  ({ agentA: agentId, runId } = await runOfAgentA(h));
  server = createNodeServer({ handler: h.handler, maxBodyBytes: DEFAULT_API_LIMITS.maxBodyBytes, logger });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  real = createControlPlaneClient({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: h.agentToken,
  });
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `n` bytes of text starting at line `first`, lines cut across chunk boundaries. */
function text(n: number, first: number): Buffer {
  let s = '';
  for (let i = first; s.length < n; i++) s += `stdout line ${i}\n`;
  return Buffer.from(s.slice(0, n));
}

test('a whole chunk written while a chunk awaits its answer is sent before that answer; a short tail after', async () => {
  const spoolDir = mkdtempSync(join(dir, 'spool-'));
  const file = join(spoolDir, 'stdout.log');
  // A whole chunk first, answered as it comes: chunks past a stream's first in flight go only
  // once this client has had a chunk of its size accepted (log-chunk-size.ts).
  writeFileSync(file, text(LOG_CHUNK, 0));
  let holding = false;
  const offsets: number[] = [];
  let sentWhileHeld = 0;
  let firstAnswered = false;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  /** The worker's later writes, awaited before the last pass (one landing after the test ended threw there). */
  let tail: Promise<unknown> = Promise.resolve();
  const writeAfter = (ms: number, data: Buffer): Promise<void> =>
    new Promise((done) => setTimeout(() => done(appendFileSync(file, data)), ms));
  const client: ControlPlaneClient = {
    ...real,
    appendComputeLogs: async (...args) => {
      if (!holding) return real.appendComputeLogs(...args);
      const n = offsets.push(args[3]);
      if (n === 1) {
        // The worker goes on writing once the shipper found nothing more to read: a whole chunk,
        // then a short tail.
        tail = Promise.all([writeAfter(30, text(LOG_CHUNK, 10_000)), writeAfter(200, text(5_000, 900_000))]);
      } else if (n === 2 && !firstAnswered) {
        sentWhileHeld++;
        release();
      }
      const r = await real.appendComputeLogs(...args);
      if (n === 1) {
        await released;
        firstAnswered = true;
      }
      return r;
    },
  };
  const shipper = new SpoolShipper(
    runId,
    agentId,
    spoolDir,
    client,
    logger,
    { runId, lastSeq: 0, stdoutBytes: 0, stderrBytes: 0, status: 'STARTED' },
    undefined,
    // A pass on a starved host must not end (and drain its window) on the clock.
    60_000,
  );
  for (let i = 0; i < 50 && (await shipper.shipOnce(false)); i++);
  // Then less than a chunk, which is what the worker has written when the shipper next looks.
  appendFileSync(file, text(100_000, 5_000));
  holding = true;
  // The first chunk's answer reaches the shipper only once another chunk went, or after 10 s (a
  // shipper that waits for it before sending more would wait for ever).
  const timer = setTimeout(release, 10_000);
  try {
    for (let i = 0; i < 50 && (await shipper.shipOnce(false)); i++);
    // Whatever the tail's timing, a last pass once the worker is done.
    await tail;
    for (let i = 0; i < 50 && (await shipper.shipOnce(true)); i++);
  } finally {
    clearTimeout(timer);
  }
  assert.equal(sentWhileHeld, 1, 'the chunk written meanwhile went before the first answer');
  assert.equal(offsets[1], LOG_CHUNK + 100_000, 'the second chunk starts where the first ended');
  assert.ok((await storedStdoutBytes(h.store, runId)).equals(readFileSync(file)), 'stored stdout is the spool');
});
