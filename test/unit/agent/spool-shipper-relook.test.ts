// The events shipper while a worker has just begun writing in a loop: lines written after a batch
// was sent, while its answer is still awaited, go in a batch of their own at once (the window
// fills with what the worker writes), not only once that answer comes. Against the real SQLite
// store, called in-process; every event stored once, seqs contiguous.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SpoolShipper } from '../../../src/agent/spool-shipper.js';
import { parseEventLines } from '../../../src/control-plane/graphql/event-lines.js';
import { appendRunEvents, listRunEvents } from '../../../src/control-plane/store/run-events.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { createLogger } from '../../../src/shared/logger.js';

const logger = createLogger({ name: 'test', level: 'silent' });
let dir: string;
let store: Store;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-shipper-relook-'));
  store = await Store.open({ url: `sqlite:${join(dir, 'db.sqlite')}` });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const line = (seq: number): string =>
  JSON.stringify({ seq, type: seq === 1 ? 'RUN_START' : 'LOG', timestamp: 1_700_000_000_000 + seq, level: 'info' });
const lines = (from: number, to: number): string => {
  const out: string[] = [];
  for (let s = from; s <= to; s++) out.push(line(s));
  return out.join('\n') + '\n';
};

/** A run whose spool holds RUN_START, already stored (it goes alone): where both tests begin. */
async function runWithStoredStart(): Promise<{ run: { id: string }; spoolDir: string; file: string }> {
  const { run } = await store.transaction((trx) =>
    createRun(trx, store, { location: 'l', job: 'j', runConfig: {}, tags: {} }),
  );
  const spoolDir = mkdtempSync(join(dir, 'spool-'));
  const file = join(spoolDir, 'events.jsonl');
  writeFileSync(file, lines(1, 1));
  await appendRunEvents(store, run.id, parseEventLines(line(1)));
  return { run, spoolDir, file };
}

test('lines written while a batch awaits its answer are sent before that answer comes', async () => {
  const { run, spoolDir, file } = await runWithStoredStart();
  // Then the worker's first lines of its loop.
  appendFileSync(file, lines(2, 200));
  let calls = 0;
  let sentWhileHeld = 0;
  let firstAnswered = false;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  // The first batch's answer is held until another batch arrives, or 3 s pass.
  const timer = setTimeout(release, 3_000);
  const client = {
    appendRunEventLines: async (_agent: string, runId: string, body: Buffer) => {
      const n = ++calls;
      if (n === 1) {
        // The worker writes more while the first batch is unanswered, after the shipper has
        // found nothing more to read.
        setTimeout(() => appendFileSync(file, lines(201, 400)), 30);
      } else if (n === 2 && !firstAnswered) {
        sentWhileHeld++;
        release();
      }
      const r = await appendRunEvents(store, runId, parseEventLines(body.toString('utf8')));
      if (n === 1) {
        await released;
        firstAnswered = true;
      }
      return { highestContiguousSeq: r.highestContiguousSeq, status: r.status };
    },
    appendComputeLogs: () => Promise.resolve({ storedBytes: 0, truncated: false }),
  };
  const shipper = new SpoolShipper(run.id, 'agent_relook', spoolDir, client, logger, {
    runId: run.id,
    lastSeq: 1,
    stdoutBytes: 0,
    stderrBytes: 0,
    status: 'STARTED',
  });
  try {
    for (let i = 0; i < 100 && (await shipper.shipOnce(false)); i++);
  } finally {
    clearTimeout(timer);
  }
  assert.equal(sentWhileHeld, 1, 'the lines written meanwhile went before the first answer');
  const stored = await listRunEvents(store, run.id, 0, 1_000);
  assert.deepEqual(
    stored.map((e) => e.workerSeq),
    Array.from({ length: 400 }, (_, i) => i + 1),
    'every event stored once, in order',
  );
  assert.equal(shipper.lastSeq, 400);
});

/** Bytes this process has read through read syscalls (/proc/self/io rchar). */
function bytesRead(): number {
  const io = readFileSync('/proc/self/io', 'utf8');
  return Number(/^rchar: (\d+)$/m.exec(io)![1]);
}

test('a long unfinished last line is read again only once the file has grown, not at every relook', async () => {
  const { run, spoolDir, file } = await runWithStoredStart();
  // Complete lines, then the first 3 MiB of one long event the worker is still writing.
  const TAIL = 3 * 1024 * 1024;
  appendFileSync(
    file,
    lines(2, 50) + `{"seq":51,"type":"LOG","timestamp":1,"level":"info","message":"${'x'.repeat(TAIL)}`,
  );
  let calls = 0;
  const client = {
    appendRunEventLines: async (_agent: string, runId: string, body: Buffer) => {
      calls++;
      const r = await appendRunEvents(store, runId, parseEventLines(body.toString('utf8')));
      // A slow answer: the shipper relooks at the file meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 800));
      return { highestContiguousSeq: r.highestContiguousSeq, status: r.status };
    },
    appendComputeLogs: () => Promise.resolve({ storedBytes: 0, truncated: false }),
  };
  const shipper = new SpoolShipper(
    run.id,
    'agent_relook',
    spoolDir,
    client,
    logger,
    { runId: run.id, lastSeq: 1, stdoutBytes: 0, stderrBytes: 0, status: 'STARTED' },
    undefined,
    5_000,
  );
  const before = bytesRead();
  assert.equal(await shipper.shipOnce(false), true);
  const read = bytesRead() - before;
  assert.equal(calls, 1);
  assert.equal(shipper.lastSeq, 50);
  // The unfinished line is read once (its 1 MiB start, then the rest): not ~16 relooks' worth.
  assert.ok(read < 4 * TAIL, `the pass read ${(read / 2 ** 20).toFixed(1)} MiB`);
  // The line completes: the next pass ships it.
  appendFileSync(file, '"}\n');
  assert.equal(await shipper.shipOnce(false), true);
  assert.equal(shipper.lastSeq, 51);
});
