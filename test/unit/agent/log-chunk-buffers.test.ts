// The spool shipper reads log chunks into reused buffers (log-send-budget.ts logChunkBuffers,
// shared/body-pool.ts): against the real SQLite store, with chunks in flight together and each
// first call of a pair answered late, no buffer is in two chunks in flight at once, buffers are
// reused, and the stored bytes are the spool's byte for byte (a buffer reused before its chunk
// was answered would store another chunk's bytes).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { logChunkBuffers } from '../../../src/agent/log-send-budget.js';
import { LOG_CHUNK, LOG_CHUNKS_IN_FLIGHT, SpoolShipper } from '../../../src/agent/spool-shipper.js';
import { appendWhenContiguous } from '../../../src/control-plane/http/agent-logs.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { createLogger } from '../../../src/shared/logger.js';
import { storedStdoutBytes } from '../../support/stored-logs.js';

const AGENT = 'agent_buffers';
let dir: string;
let store: Store;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-log-buffers-'));
  store = await Store.open({ url: `sqlite:${join(dir, 'db.sqlite')}` });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('log chunks are read into reused buffers, none in two chunks in flight at once; stored bytes are the spool', async () => {
  const { run } = await store.transaction((trx) =>
    createRun(trx, store, { location: 'l', job: 'j', runConfig: {}, tags: {} }),
  );
  const spoolDir = mkdtempSync(join(dir, 'spool-'));
  let text = '';
  for (let i = 0; text.length < LOG_CHUNK * LOG_CHUNKS_IN_FLIGHT * 2 + 12_345; i++) text += `line ${i} of stdout\n`;
  const bytes = Buffer.from(text);
  writeFileSync(join(spoolDir, 'stdout.log'), bytes);
  const reused = logChunkBuffers.stats().reused;
  const inFlight = new Set<ArrayBufferLike>();
  let sharedInFlight = 0;
  let calls = 0;
  const client = {
    appendRunEventLines: () => Promise.reject(new Error('no events here')),
    appendComputeLogs: async (_a: string, runId: string, stream: 'stdout' | 'stderr', offset: number, data: Buffer) => {
      if (inFlight.has(data.buffer)) sharedInFlight++;
      inFlight.add(data.buffer);
      try {
        // Stored late: a buffer handed to the next chunk before this answer would change these bytes.
        if (++calls % 2 === 1) await new Promise((r) => setTimeout(r, 30));
        return await appendWhenContiguous(store, { runId, stream, offset }, data, 3_000);
      } finally {
        inFlight.delete(data.buffer);
      }
    },
  };
  const cursor = { runId: run.id, lastSeq: 0, stdoutBytes: 0, stderrBytes: 0, status: 'STARTED' as const };
  const logger = createLogger({ name: 'test', level: 'silent' });
  const shipper = new SpoolShipper(run.id, AGENT, spoolDir, client, logger, cursor);
  for (let i = 0; i < 100 && (await shipper.shipOnce(true)); i++);
  assert.equal(sharedInFlight, 0, 'no buffer was in two chunks in flight at once');
  assert.ok(logChunkBuffers.stats().reused > reused, 'chunks were read into reused buffers');
  assert.ok((await storedStdoutBytes(store, run.id)).equals(bytes), 'stored stdout is the spool, byte for byte');
});
