// The spool shipper's log chunks against a control plane whose body limit is below the agent's
// chunk size (an operator's --max-body-bytes): the first chunk is refused naming maxBodyBytes, the
// shipper cuts its chunks to that limit and ships everything, the stored bytes identical to the
// spool; a later run's shipper on the same client starts at the learned size (no refusal).
// Real control plane on a socket (node-server.ts), real agent client over node:http, SQLite.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createControlPlaneClient, type ControlPlaneClient } from '../../../src/agent/control-plane-client.js';
import { LOG_CHUNK, SpoolShipper } from '../../../src/agent/spool-shipper.js';
import { createNodeServer } from '../../../src/control-plane/http/node-server.js';
import { readComputeLogs } from '../../../src/control-plane/store/compute-logs.js';
import { OutpostError } from '../../../src/shared/errors.js';
import { createLogger } from '../../../src/shared/logger.js';
import { openHarness, runOfAgentA, type Harness } from '../../support/control-plane-harness.js';

/** Odd, so chunk boundaries fall mid-line. */
const MAX_BODY = 1024 * 1024 + 17;
const logger = createLogger({ name: 'test', level: 'silent' });
let dir: string;
let h: Harness;
let server: Server;
let client: ControlPlaneClient;
let agentId: string;
let runId: string;
const refusals: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-log-chunk-limit-'));
  h = await openHarness(`sqlite:${join(dir, 'db.sqlite')}`, { limits: { maxBodyBytes: MAX_BODY } });
  ({ agentA: agentId, runId } = await runOfAgentA(h));
  server = createNodeServer({ handler: h.handler, maxBodyBytes: MAX_BODY, logger });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const real = createControlPlaneClient({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: h.agentToken,
  });
  // The real client, its log refusals noted (one client: the shipper learns the limit per client).
  client = {
    ...real,
    appendComputeLogs: (...args) =>
      real.appendComputeLogs(...args).catch((e: unknown) => {
        refusals.push(e instanceof OutpostError ? e.code : String(e));
        throw e;
      }),
  };
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

function spoolWith(bytes: Buffer): string {
  const spoolDir = mkdtempSync(join(dir, 'spool-'));
  writeFileSync(join(spoolDir, 'stdout.log'), bytes);
  return spoolDir;
}

const shipper = (spoolDir: string, stdoutBytes: number) =>
  new SpoolShipper(runId, agentId, spoolDir, client, logger, {
    runId,
    lastSeq: 0,
    stdoutBytes,
    stderrBytes: 0,
    status: 'STARTED',
  });

async function stored(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = 0; ;) {
    const slice = await readComputeLogs(h.store, runId, 'stdout', at, 8 * 1024 * 1024);
    if (slice.nextOffset === at) break;
    parts.push(Buffer.from(slice.data));
    at = slice.nextOffset;
  }
  return Buffer.concat(parts);
}

test('chunks refused as over maxBodyBytes are cut to it; every byte stored once, in order', async () => {
  assert.ok(LOG_CHUNK > MAX_BODY, 'the agent chunk is larger than this control plane takes');
  let text = '';
  for (let i = 0; text.length < 3 * LOG_CHUNK + 1234; i++) text += `line ${i} of stdout\n`;
  const bytes = Buffer.from(text);
  const first = shipper(spoolWith(bytes), 0);
  for (let i = 0; i < 50 && (await first.shipOnce(true)); i++);
  assert.ok((await stored()).equals(bytes), 'stored stdout is the spool, byte for byte');
  assert.ok(
    refusals.length >= 1 && refusals.every((c) => c === 'OUTPOST_ERR_BODY_TOO_LARGE'),
    `refusals: ${refusals.join(',')}`,
  );

  // The next run's shipper on this client sends chunks the control plane takes from the start.
  refusals.length = 0;
  const more = Buffer.from('x'.repeat(3 * MAX_BODY));
  const second = shipper(spoolWith(Buffer.concat([bytes, more])), bytes.length);
  for (let i = 0; i < 50 && (await second.shipOnce(true)); i++);
  assert.deepEqual(refusals, []);
  assert.ok((await stored()).equals(Buffer.concat([bytes, more])));
});
