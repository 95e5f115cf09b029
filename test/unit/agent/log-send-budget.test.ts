// The compute-log chunks a shipper keeps in flight, against the real SQLite store (the raw
// endpoint's appendWhenContiguous called in-process): one busy stream keeps more than two chunks
// on their way while the budget has room (so the control plane has the next bodies received while
// it stores one), and streams sharing a budget stay within it, each still shipping (its first chunk
// always goes), with the stored bytes the spool's, byte for byte. A pass sends up to
// LOG_SENDS_PER_PASS chunks of a stream (it ends by draining them, which idles the control plane).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LOG_BYTES_IN_FLIGHT, LogSendBudget } from '../../../src/agent/log-send-budget.js';
import { LOG_CHUNK, LOG_CHUNKS_IN_FLIGHT, SpoolShipper } from '../../../src/agent/spool-shipper.js';
import { appendWhenContiguous } from '../../../src/control-plane/http/agent-logs.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { OutpostError } from '../../../src/shared/errors.js';
import { createLogger } from '../../../src/shared/logger.js';
import { storedStdoutBytes } from '../../support/stored-logs.js';

const logger = createLogger({ name: 'test', level: 'silent' });
let dir: string;
let store: Store;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-log-budget-'));
  store = await Store.open({ url: `sqlite:${join(dir, 'db.sqlite')}` });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A started run whose spool holds `chunks` chunks of numbered stdout lines (and a bit more). */
async function runWithStdout(
  chunks: number,
  chunk = LOG_CHUNK,
): Promise<{ runId: string; spoolDir: string; bytes: Buffer }> {
  const { run } = await store.transaction((trx) =>
    createRun(trx, store, { location: 'l', job: 'j', runConfig: {}, tags: {} }),
  );
  const spoolDir = mkdtempSync(join(dir, 'spool-'));
  const lines: string[] = [];
  for (let i = 0, size = 0; size < chunk * chunks + 777; i++) {
    const line = `${run.id} line ${i}\n`;
    lines.push(line);
    size += line.length;
  }
  const bytes = Buffer.from(lines.join(''));
  writeFileSync(join(spoolDir, 'stdout.log'), bytes);
  writeFileSync(join(spoolDir, 'events.jsonl'), '');
  return { runId: run.id, spoolDir, bytes };
}

/**
 * The raw endpoint's store call, each answer held 40 ms (a control plane busy storing), counting
 * chunks in flight per run and over all runs.
 */
function slowClient() {
  const now = new Map<string, number>();
  const stats = { maxPerRun: new Map<string, number>(), maxTotal: 0, total: 0 };
  return {
    stats,
    appendRunEventLines: () => Promise.reject(new Error('no events here')),
    appendComputeLogs: async (_a: string, runId: string, stream: 'stdout' | 'stderr', offset: number, data: Buffer) => {
      now.set(runId, (now.get(runId) ?? 0) + 1);
      stats.total++;
      stats.maxPerRun.set(runId, Math.max(stats.maxPerRun.get(runId) ?? 0, now.get(runId)!));
      stats.maxTotal = Math.max(stats.maxTotal, stats.total);
      try {
        await new Promise((r) => setTimeout(r, 40));
        return await appendWhenContiguous(store, { runId, stream, offset }, data, 3_000);
      } finally {
        now.set(runId, now.get(runId)! - 1);
        stats.total--;
      }
    },
  };
}

function shipper(
  runId: string,
  spoolDir: string,
  client: Pick<ReturnType<typeof slowClient>, 'appendRunEventLines' | 'appendComputeLogs'>,
  budget: LogSendBudget,
  passMs?: number,
) {
  const cursor = { runId, lastSeq: 0, stdoutBytes: 0, stderrBytes: 0, status: 'STARTED' as const };
  return new SpoolShipper(runId, 'agent_budget', spoolDir, client, logger, cursor, budget, passMs);
}

async function shipAll(s: SpoolShipper): Promise<void> {
  for (let i = 0; i < 100 && (await s.shipOnce(true)); i++);
}

test('one busy stream keeps more than two chunks in flight while the budget has room', async () => {
  const { runId, spoolDir, bytes } = await runWithStdout(6);
  const client = slowClient();
  const budget = new LogSendBudget();
  // The pass's time limit lifted: on a starved host the 1 s limit ended a pass before its window
  // filled (peak 3, not 4), as it ended the 40-chunk pass below before its count.
  await shipAll(shipper(runId, spoolDir, client, budget, 60_000));
  const most = Math.min(LOG_CHUNKS_IN_FLIGHT, LOG_BYTES_IN_FLIGHT / LOG_CHUNK);
  assert.ok(most > 2, `the defaults allow ${most} chunks in flight`);
  assert.equal(client.stats.maxPerRun.get(runId), most);
  assert.equal(budget.inFlight, 0, 'every chunk gave its room back');
  assert.ok((await storedStdoutBytes(store, runId)).equals(bytes), 'stored stdout is the spool, byte for byte');
});

test('streams sharing a budget of one chunk: one chunk each in flight, every stream ships', async () => {
  const runs = await Promise.all([runWithStdout(3), runWithStdout(3), runWithStdout(3)]);
  const client = slowClient();
  const budget = new LogSendBudget(LOG_CHUNK);
  await Promise.all(runs.map((r) => shipAll(shipper(r.runId, r.spoolDir, client, budget))));
  for (const r of runs) {
    assert.equal(client.stats.maxPerRun.get(r.runId), 1, 'past its first chunk a stream waits for room');
    assert.ok((await storedStdoutBytes(store, r.runId)).equals(r.bytes), 'stored stdout is the spool, byte for byte');
  }
  // Each stream's first chunk goes regardless: the bound is the budget plus one chunk per stream.
  assert.ok(budget.peak <= budget.limit + runs.length * LOG_CHUNK, `peak ${budget.peak}`);
  assert.ok(client.stats.maxTotal <= runs.length, `chunks in flight at once: ${client.stats.maxTotal}`);
  assert.equal(budget.inFlight, 0);
});

test('a budget of two chunks over two streams: at most two chunks past the streams firsts', async () => {
  const runs = await Promise.all([runWithStdout(4), runWithStdout(4)]);
  const client = slowClient();
  const budget = new LogSendBudget(2 * LOG_CHUNK);
  await Promise.all(runs.map((r) => shipAll(shipper(r.runId, r.spoolDir, client, budget))));
  assert.ok(budget.peak <= 2 * LOG_CHUNK + runs.length * LOG_CHUNK, `peak ${budget.peak}`);
  assert.ok(client.stats.maxTotal <= 3, `chunks in flight at once: ${client.stats.maxTotal}`);
  for (const r of runs) assert.ok((await storedStdoutBytes(store, r.runId)).equals(r.bytes));
});

test('one pass sends 40 chunks of a stream (a pass ends by draining its window)', async () => {
  // 64 KiB chunks: the first is refused naming that limit (the shipper cuts its chunks to it).
  const small = 64 * 1024;
  const chunks = 40;
  const { runId, spoolDir, bytes } = await runWithStdout(chunks - 1, small);
  let calls = 0;
  const client = {
    appendRunEventLines: () => Promise.reject(new Error('no events here')),
    appendComputeLogs: async (_a: string, id: string, stream: 'stdout' | 'stderr', offset: number, data: Buffer) => {
      if (calls++ === 0)
        throw new OutpostError('BATCH_TOO_LARGE', { data: { limit: 'maxLogChunkBytes', value: small } });
      return appendWhenContiguous(store, { runId: id, stream, offset }, data, 3_000);
    },
  };
  // The pass's time limit lifted: on a starved host it, not the count, would end the pass.
  await shipper(runId, spoolDir, client, new LogSendBudget(), 60_000).shipOnce(true);
  assert.equal(calls, 1 + chunks, 'every chunk went in the one pass');
  assert.ok((await storedStdoutBytes(store, runId)).equals(bytes), 'stored stdout is the spool, byte for byte');
});

test('a log read that finds nothing gives its room back (a leak would shrink the budget of every stream for good)', async () => {
  const { runId, spoolDir } = await runWithStdout(1);
  // stdout.log a directory: its size reads as non-zero, and the read finds no regular file to
  // read (as for a symlink or FIFO user code planted there: spool-planted-links.test.ts).
  rmSync(join(spoolDir, 'stdout.log'));
  mkdirSync(join(spoolDir, 'stdout.log'));
  const budget = new LogSendBudget();
  await shipper(runId, spoolDir, slowClient(), budget).shipOnce(true);
  assert.equal(budget.inFlight, 0);
});
