// The spool shipper against the real SQLite store (called in-process instead of over HTTP):
// with batches in flight together and a later one landing first, every event is stored once, seqs
// are contiguous, malformed lines are skipped, and after a failed call a new shipper started
// from the store's cursor finishes the job without loss or duplicates. The same for stdout, with
// chunks in flight together: the stored bytes are the spool's, byte for byte. Both keep a window
// of requests in flight (the next goes as soon as one is answered), a status event going alone.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  EVENT_BATCH,
  EVENT_BATCHES_IN_FLIGHT,
  EVENT_LINE_MAX,
  LOG_CHUNK,
  LOG_CHUNKS_IN_FLIGHT,
  SpoolShipper,
} from '../../../src/agent/spool-shipper.js';
import { eventLinesAfter, readRange } from '../../../src/agent/spool-lines.js';
import { confirmLogChunk } from '../../../src/agent/log-chunk-size.js';
import { appendWhenContiguous } from '../../../src/control-plane/http/agent-logs.js';
import { parseEventLines } from '../../../src/control-plane/graphql/event-lines.js';
import { appendRunEvents, listRunEvents } from '../../../src/control-plane/store/run-events.js';
import { getRun } from '../../../src/control-plane/store/runs.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { storedStdoutBytes } from '../../support/stored-logs.js';
import { createLogger } from '../../../src/shared/logger.js';
import type { RunStatus } from '../../../src/shared/run-status.js';

const N = EVENT_BATCH * 2 + 1_500; // more than one pass of EVENT_BATCHES_IN_FLIGHT batches
const logger = createLogger({ name: 'test', level: 'silent' });
let dir: string;
let store: Store;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-shipper-'));
  store = await Store.open({ url: `sqlite:${join(dir, 'db.sqlite')}` });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A spool of N events (RUN_START … RUN_SUCCESS) with a few odd lines mixed in. */
function writeSpool(spoolDir: string, n = N, odd = true): void {
  const lines: string[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const type = seq === 1 ? 'RUN_START' : seq === n ? 'RUN_SUCCESS' : 'LOG';
    const e: Record<string, unknown> = {
      seq,
      type,
      timestamp: 1_700_000_000_000 + seq,
      level: 'info',
      data: { i: seq },
    };
    if (seq % 1000 === 0) e.error = { name: 'Error', message: `e${seq}` }; // the schema path
    if (odd && seq % 1001 === 0) e.extra = 'stripped'; // unknown key: the schema path
    lines.push(JSON.stringify(e));
    if (odd && seq === 10) lines.push('{not json', JSON.stringify({ seq: 99_999_999, type: 'NOPE', timestamp: 1 }), '');
  }
  writeFileSync(join(spoolDir, 'events.jsonl'), lines.join('\n') + '\n');
}

/** The agent id the shipper sends as (the store itself is called directly here). */
const AGENT = 'agent_shipper';

/** appendRunEvents on the real store; every first call of a pair is held back so its successor lands first. */
function storeClient(runId: string, opts: { failCall?: number } = {}) {
  let calls = 0;
  let inFlight = 0;
  const stats = { maxInFlight: 0, calls: 0 };
  return {
    stats,
    // The control plane's own check of each line (a malformed one refuses the batch), then the store.
    appendRunEventLines: async (agentId: string, id: string, lines: Buffer) => {
      const events = parseEventLines(lines.toString('utf8'));
      assert.equal(agentId, AGENT);
      assert.equal(id, runId);
      const n = ++calls;
      stats.calls = n;
      inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
      try {
        if (n % 2 === 1) await new Promise((r) => setTimeout(r, 30));
        if (n === opts.failCall) throw new Error('control plane unavailable');
        const r = await appendRunEvents(store, id, events);
        return { highestContiguousSeq: r.highestContiguousSeq, status: r.status };
      } finally {
        inFlight--;
      }
    },
    appendComputeLogs: () => Promise.resolve({ storedBytes: 0, truncated: false }),
  };
}

async function newRun(n = N, odd = true): Promise<{ runId: string; spoolDir: string }> {
  const { run } = await store.transaction((trx) =>
    createRun(trx, store, { location: 'l', job: 'j', runConfig: {}, tags: {} }),
  );
  const spoolDir = mkdtempSync(join(dir, 'spool-'));
  writeSpool(spoolDir, n, odd);
  return { runId: run.id, spoolDir };
}

/** A shipper for a run whose store holds nothing of it yet (or up to `lastSeq`, in `status`). */
function shipperFromStart(
  runId: string,
  spoolDir: string,
  client: ConstructorParameters<typeof SpoolShipper>[3],
  lastSeq = 0,
  status: RunStatus = 'STARTING',
): SpoolShipper {
  return new SpoolShipper(
    runId,
    AGENT,
    spoolDir,
    client,
    logger,
    { runId, lastSeq, stdoutBytes: 0, stderrBytes: 0, status },
    undefined,
    // A pass on a starved host must not end (and drain its window) on the clock: the tests that
    // hold an answer count what is sent while it is held.
    60_000,
  );
}

async function shipAll(shipper: SpoolShipper): Promise<void> {
  for (let i = 0; i < 1_000 && (await shipper.shipOnce(true)); i++);
}

async function assertAllStoredOnce(runId: string, n = N): Promise<void> {
  const seqs: number[] = [];
  for (let after = 0, i = 0; i < 100; i++) {
    const page = await listRunEvents(store, runId, after, 5_000);
    if (!page.length) break;
    seqs.push(...page.map((e) => e.seq));
    after = page[page.length - 1]!.seq;
  }
  assert.equal(seqs.length, n);
  assert.ok(
    seqs.every((s, i) => s === i + 1),
    'seqs are 1..n, each once',
  );
  const run = await getRun(store.db, runId);
  assert.equal(run?.lastSeq, n);
  assert.equal(run?.status, 'SUCCESS');
  const withError = (await listRunEvents(store, runId, 999, 1))[0];
  assert.deepEqual(withError?.error, { name: 'Error', message: 'e1000' });
}

test('two batches in flight, the later landing first: everything stored once, in order', async () => {
  const { runId, spoolDir } = await newRun();
  const client = storeClient(runId);
  const shipper = shipperFromStart(runId, spoolDir, client);
  await shipAll(shipper);
  // Three batches: the last carries RUN_SUCCESS and goes alone, so two were in flight together.
  assert.equal(client.stats.maxInFlight, 2);
  assert.equal(shipper.lastSeq, N);
  assert.equal(shipper.maxSeqInFile, N, 'the line with a bad type was skipped');
  assert.ok(shipper.sawTerminalEvent);
  await assertAllStoredOnce(runId);
});

test("the stored end status comes with the answer to the terminal event's batch (no cursor asked after it)", async () => {
  const { runId, spoolDir } = await newRun(50, false);
  const cursor = { runId, lastSeq: 0, stdoutBytes: 0, stderrBytes: 0, status: 'STARTING' as const };
  const shipper = new SpoolShipper(runId, AGENT, spoolDir, storeClient(runId), logger, cursor);
  await shipper.shipOnce(false);
  assert.ok(shipper.sawTerminalEvent);
  const stored = await getRun(store.db, runId);
  assert.equal(stored?.status, 'SUCCESS');
  assert.equal(shipper.endStatus, stored?.status);

  // A shipper resumed past the end (everything already stored) sent nothing: it does not know.
  const resumed = new SpoolShipper(runId, AGENT, spoolDir, storeClient(runId), logger, {
    ...cursor,
    lastSeq: 50,
    status: 'SUCCESS',
  });
  await shipAll(resumed);
  assert.ok(resumed.sawTerminalEvent);
  assert.equal(resumed.endStatus, undefined);
});

test("a launch report's first events stop before a terminal event (it goes with supervision, after the logs)", async () => {
  // A fast run on a warm worker can be over before its launch is reported: the report once
  // stored RUN_SUCCESS with the first events, before any of the run's stdout was shipped.
  const { spoolDir } = await newRun(5, false);
  const seqs = (lines: string) => lines.split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
  assert.deepEqual(seqs(eventLinesAfter(spoolDir, 0, 100)), [1, 2, 3, 4]);
  assert.deepEqual(seqs(eventLinesAfter(spoolDir, 1, 2)), [2, 3]);
  assert.equal(eventLinesAfter(spoolDir, 4, 100), '');
});

test('a failed call: a new shipper resumes from the stored cursor with nothing lost or repeated', async () => {
  const { runId, spoolDir } = await newRun();
  const cursor = { runId, lastSeq: 0, stdoutBytes: 0, stderrBytes: 0, status: 'STARTING' as const };
  // Call 1 (held back, first batch) fails while call 2 (the next batch) is stored: a gap.
  const failing = new SpoolShipper(runId, AGENT, spoolDir, storeClient(runId, { failCall: 1 }), logger, cursor);
  await assert.rejects(failing.shipOnce(true), /control plane unavailable/);
  assert.equal(failing.lastSeq, 0, 'the cursor stays at the highest contiguous seq acknowledged');
  const stored = await getRun(store.db, runId);
  assert.equal(stored?.lastSeq, 0);
  const resumed = new SpoolShipper(runId, AGENT, spoolDir, storeClient(runId), logger, {
    ...cursor,
    lastSeq: stored.lastSeq,
  });
  await shipAll(resumed);
  assert.equal(resumed.lastSeq, N);
  await assertAllStoredOnce(runId);
});

/** stdout of LOG_CHUNKS_IN_FLIGHT passes and a bit, every line numbered (a duplicate or a hole shows). */
function writeStdout(spoolDir: string): Buffer {
  let text = '';
  for (let i = 0; text.length < LOG_CHUNK * LOG_CHUNKS_IN_FLIGHT * 2 + 12_345; i++) text += `line ${i} of stdout\n`;
  const bytes = Buffer.from(text);
  writeFileSync(join(spoolDir, 'stdout.log'), bytes);
  return bytes;
}

/** appendComputeLogs as the raw endpoint does it (waiting for a gap), each first call of a pair held back. */
function logClient(opts: { failCall?: number } = {}) {
  let calls = 0;
  let inFlight = 0;
  const stats = { maxInFlight: 0 };
  return {
    stats,
    appendRunEventLines: () => Promise.reject(new Error('no events here')),
    appendComputeLogs: async (
      agentId: string,
      runId: string,
      stream: 'stdout' | 'stderr',
      offset: number,
      data: Buffer,
    ) => {
      const n = ++calls;
      inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
      try {
        if (n % 2 === 1) await new Promise((r) => setTimeout(r, 30));
        if (n === opts.failCall) throw new Error('control plane unavailable');
        return await appendWhenContiguous(store, { runId, stream, offset }, data, 300);
      } finally {
        inFlight--;
      }
    },
  };
}

function storedStdout(runId: string): Promise<Buffer> {
  return storedStdoutBytes(store, runId);
}

test('stdout: chunks in flight together, the later landing first; stored bytes identical to the spool', async () => {
  const { runId, spoolDir } = await newRun();
  const bytes = writeStdout(spoolDir);
  const client = logClient();
  const shipper = shipperFromStart(runId, spoolDir, client, N, 'STARTED');
  for (let i = 0; i < 100 && (await shipper.shipOnce(true)); i++);
  assert.equal(client.stats.maxInFlight, LOG_CHUNKS_IN_FLIGHT);
  assert.ok((await storedStdout(runId)).equals(bytes), 'stored stdout is the spool, byte for byte');
});

test('stdout: a failed chunk, then a new shipper from the cursor: no byte lost or stored twice', async () => {
  const { runId, spoolDir } = await newRun();
  const bytes = writeStdout(spoolDir);
  const cursor = { runId, lastSeq: N, stdoutBytes: 0, stderrBytes: 0, status: 'STARTED' as const };
  // Call 3 fails; the chunks after it wait for its bytes, then are refused for the gap.
  const failing = new SpoolShipper(runId, AGENT, spoolDir, logClient({ failCall: 3 }), logger, cursor);
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 100 && (await failing.shipOnce(true)); i++);
    })(),
    /control plane unavailable/,
  );
  const run = await getRun(store.db, runId);
  assert.equal(run?.stdoutBytes, LOG_CHUNK * 2, 'the two chunks before the failed one only');
  // A restarted supervisor resends from a stale cursor (0): overlaps store nothing twice.
  const resumed = new SpoolShipper(runId, AGENT, spoolDir, logClient(), logger, cursor);
  for (let i = 0; i < 100 && (await resumed.shipOnce(true)); i++);
  assert.ok((await storedStdout(runId)).equals(bytes), 'stored stdout is the spool, byte for byte');
});

/**
 * A client whose first call's answer is held (after it is stored) until `more` further calls have
 * arrived, or 10 s after the first call (a fallback only a lock-step shipper waits out: the clock
 * starts at the first call, so a slow set-up on a loaded host does not release it early).
 */
function heldFirstCall<T>(answer: (n: number, args: unknown[]) => Promise<T>, more: number) {
  let calls = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const stats = { arrivedWhileHeld: 0, held: true };
  let timer: NodeJS.Timeout | undefined;
  return {
    stats,
    async call(args: unknown[]): Promise<T> {
      const n = ++calls;
      if (n === 1) timer = setTimeout(release, 10_000);
      if (n > 1 && stats.held && ++stats.arrivedWhileHeld >= more) release();
      const answered = await answer(n, args);
      if (n === 1) {
        await released;
        stats.held = false;
        clearTimeout(timer);
      }
      return answered;
    },
  };
}

test('events: the next batch goes as soon as one is answered, not after the whole pair', async () => {
  // No odd lines: no batch is refused and resent, so the held call is the first batch itself.
  const { runId, spoolDir } = await newRun(EVENT_BATCH * 6, false);
  let inFlight = 0;
  let statusWithOthers = 0;
  const held = heldFirstCall(
    (_n, [lines]) => appendRunEvents(store, runId, parseEventLines((lines as Buffer).toString('utf8'))),
    EVENT_BATCHES_IN_FLIGHT,
  );
  const client = {
    appendRunEventLines: (_a: string, _r: string, lines: Buffer) => {
      inFlight++;
      // A batch that moves the status goes alone: nothing ahead of it is still in flight.
      if (/"type":"RUN_(START|SUCCESS)"/.test(lines.toString('utf8')) && inFlight > 1) statusWithOthers++;
      return held.call([lines]).finally(() => inFlight--);
    },
    appendComputeLogs: () => Promise.resolve({ storedBytes: 0, truncated: false }),
  };
  const shipper = shipperFromStart(runId, spoolDir, client);
  await shipAll(shipper);
  assert.ok(
    held.stats.arrivedWhileHeld >= EVENT_BATCHES_IN_FLIGHT,
    `calls sent while the first was unanswered: ${held.stats.arrivedWhileHeld}`,
  );
  assert.equal(statusWithOthers, 0, 'RUN_START and RUN_SUCCESS went with nothing ahead of them in flight');
  await assertAllStoredOnce(runId, EVENT_BATCH * 6);
});

test('stdout: the next chunk goes as soon as one is answered; stored bytes identical to the spool', async () => {
  const { runId, spoolDir } = await newRun();
  const bytes = writeStdout(spoolDir);
  const held = heldFirstCall(
    (_n, [offset, data]) =>
      appendWhenContiguous(store, { runId, stream: 'stdout', offset: offset as number }, data as Buffer, 3_000),
    LOG_CHUNKS_IN_FLIGHT,
  );
  const client = {
    appendRunEventLines: () => Promise.reject(new Error('no events here')),
    appendComputeLogs: (_a: string, _r: string, _s: 'stdout' | 'stderr', offset: number, data: Buffer) =>
      held.call([offset, data]),
  };
  // A control plane that already took a chunk of this size (else the first goes alone).
  confirmLogChunk(client, LOG_CHUNK);
  const shipper = shipperFromStart(runId, spoolDir, client, N, 'STARTED');
  for (let i = 0; i < 100 && (await shipper.shipOnce(true)); i++);
  assert.ok(
    held.stats.arrivedWhileHeld >= LOG_CHUNKS_IN_FLIGHT,
    `chunks sent while the first was unanswered: ${held.stats.arrivedWhileHeld}`,
  );
  assert.ok((await storedStdout(runId)).equals(bytes), 'stored stdout is the spool, byte for byte');
});

test('the run ends in the store only after the logs written before its end are stored', async () => {
  // Without this, a user (or a test) reading the logs of a run that shows SUCCESS could miss
  // its last lines: events and logs ship side by side, and logs are the larger, slower part.
  const { runId, spoolDir } = await newRun(20, false);
  const bytes = writeStdout(spoolDir);
  writeFileSync(join(spoolDir, 'stderr.log'), 'warning: something\n');
  const storedAtEnd: number[] = [];
  const client = {
    appendRunEventLines: async (_a: string, _r: string, lines: Buffer) => {
      if (/"type":"RUN_SUCCESS"/.test(lines.toString('utf8'))) storedAtEnd.push((await storedStdout(runId)).length);
      return appendRunEvents(store, runId, parseEventLines(lines.toString('utf8')));
    },
    appendComputeLogs: async (_a: string, _r: string, stream: 'stdout' | 'stderr', offset: number, data: Buffer) => {
      await new Promise((r) => setTimeout(r, 40)); // a control plane slower with bytes than with events
      return appendWhenContiguous(store, { runId, stream, offset }, data, 3_000);
    },
  };
  const shipper = shipperFromStart(runId, spoolDir, client);
  await shipAll(shipper);
  assert.deepEqual(storedAtEnd, [bytes.length], 'RUN_SUCCESS was sent once, with all of stdout already stored');
  assert.ok((await storedStdout(runId)).equals(bytes));
  assert.equal((await getRun(store.db, runId))?.status, 'SUCCESS');
});

test('events: one pass sends 20 batches (a pass ends by draining its window, which idles the control plane)', async () => {
  const n = EVENT_BATCH * 20;
  const { runId, spoolDir } = await newRun(n, false);
  let calls = 0;
  const client = {
    appendRunEventLines: async (_a: string, id: string, lines: Buffer) => {
      calls++;
      const r = await appendRunEvents(store, id, parseEventLines(lines.toString('utf8')));
      return { highestContiguousSeq: r.highestContiguousSeq, status: r.status };
    },
    appendComputeLogs: () => Promise.resolve({ storedBytes: 0, truncated: false }),
  };
  const cursor = { runId, lastSeq: 0, stdoutBytes: 0, stderrBytes: 0, status: 'STARTING' as const };
  // The pass's time limit lifted: on a starved host it, not the count, would end the pass.
  await new SpoolShipper(runId, AGENT, spoolDir, client, logger, cursor, undefined, 60_000).shipOnce(true);
  assert.equal(calls, 20, 'every batch went in the one pass');
  await assertAllStoredOnce(runId, n);
});

test('a spool line over EVENT_LINE_MAX (written past the SDK) is replaced at its seq by an event naming the drop, and later lines ship', async () => {
  // Before, the shipper stopped at such a line for good: nothing after it, not even RUN_SUCCESS.
  const { run } = await store.transaction((trx) =>
    createRun(trx, store, { location: 'l', job: 'j', runConfig: {}, tags: {} }),
  );
  const spoolDir = mkdtempSync(join(dir, 'spool-'));
  const line = (seq: number, type: string, message = `m${seq}`) =>
    JSON.stringify({ seq, timestamp: 1_700_000_000_000 + seq, type, level: 'info', message });
  const long = line(3, 'LOG', 'z'.repeat(EVENT_LINE_MAX + 1024));
  const lines = [line(1, 'RUN_START'), line(2, 'LOG'), long, line(4, 'LOG'), line(5, 'RUN_SUCCESS')];
  writeFileSync(join(spoolDir, 'events.jsonl'), lines.join('\n') + '\n');
  const shipper = shipperFromStart(run.id, spoolDir, storeClient(run.id));
  await shipAll(shipper);
  assert.equal(shipper.lastSeq, 5);
  const events = await listRunEvents(store, run.id, 0, 100);
  assert.deepEqual(
    events.map((e) => e.type),
    ['RUN_START', 'LOG', 'ENGINE', 'LOG', 'RUN_SUCCESS'],
  );
  const replaced = events[2]!;
  assert.equal(replaced.seq, 3);
  assert.equal(replaced.level, 'error');
  assert.deepEqual(replaced.data, {
    code: 'OUTPOST_ERR_RUN_EVENT_TOO_LARGE',
    droppedType: 'LOG',
    droppedBytes: Buffer.byteLength(long),
    eventLineMaxBytes: EVENT_LINE_MAX,
  });
  assert.match(replaced.message ?? '', /a LOG event of \d+ bytes was dropped/);
  assert.equal((await getRun(store.db, run.id))?.status, 'SUCCESS');
});

/**
 * A run whose spool holds RUN_START and then a LOG line longer than EVENT_LINE_MAX whose end
 * is not written yet (`head`: its first bytes); `line` makes a whole event line.
 */
async function overlongLineInSpool() {
  const { run } = await store.transaction((trx) =>
    createRun(trx, store, { location: 'l', job: 'j', runConfig: {}, tags: {} }),
  );
  const spoolDir = mkdtempSync(join(dir, 'spool-'));
  const file = join(spoolDir, 'events.jsonl');
  const line = (seq: number, type: string): string =>
    JSON.stringify({ seq, timestamp: 1_700_000_000_000 + seq, type, level: 'info', message: `m${seq}` });
  const head = `{"seq":2,"timestamp":1700000000002,"type":"LOG","level":"info","message":"`;
  writeFileSync(file, `${line(1, 'RUN_START')}\n${head}${'q'.repeat(EVENT_LINE_MAX + 10)}`);
  return { run, spoolDir, file, line, head };
}

test('an over-long line still being written waits for its end (nothing after it is guessed), then is replaced', async () => {
  const { run, spoolDir, file, line, head } = await overlongLineInSpool();
  const shipper = shipperFromStart(run.id, spoolDir, storeClient(run.id));
  for (let i = 0; i < 3; i++) await shipper.shipOnce(false);
  assert.equal(shipper.lastSeq, 1, 'the unfinished line is not replaced yet');
  appendFileSync(file, `${'q'.repeat(1024 * 1024)}"}\n${line(3, 'LOG')}\n${line(4, 'RUN_SUCCESS')}\n`);
  for (let i = 0; i < 5 && shipper.lastSeq < 4; i++) await shipper.shipOnce(false);
  assert.equal(shipper.lastSeq, 4);
  const events = await listRunEvents(store, run.id, 0, 100);
  assert.deepEqual(
    events.map((e) => e.type),
    ['RUN_START', 'ENGINE', 'LOG', 'RUN_SUCCESS'],
  );
  assert.equal(
    (events[1]!.data as { droppedBytes: number }).droppedBytes,
    head.length + EVENT_LINE_MAX + 10 + 1024 * 1024 + 2,
  );
});

test('an over-long line still being written is not read again from its start each pass: a pass reads what was appended', async () => {
  // Before, every pass read the line's first 13 MiB again (1, 4, then 8 MiB) while it grew.
  const { run, spoolDir, file, line, head } = await overlongLineInSpool();
  let read = 0;
  const counting: typeof readRange = (f, offset, max, alloc) => {
    const buf = readRange(f, offset, max, alloc);
    read += buf?.length ?? 0;
    return buf;
  };
  const shipper = new SpoolShipper(
    run.id,
    AGENT,
    spoolDir,
    storeClient(run.id),
    logger,
    { runId: run.id, lastSeq: 0, stdoutBytes: 0, stderrBytes: 0, status: 'STARTING' },
    undefined,
    60_000,
    counting,
  );
  await shipper.shipOnce(false);
  assert.ok(read > EVENT_LINE_MAX, `the first pass reads the line through (${read} bytes)`);
  const GROWTH = 4096;
  for (let i = 0; i < 3; i++) {
    appendFileSync(file, 'q'.repeat(GROWTH));
    read = 0;
    await shipper.shipOnce(false);
    assert.ok(read <= GROWTH, `pass ${i + 2} read ${read} bytes for ${GROWTH} appended`);
  }
  assert.equal(shipper.lastSeq, 1, 'the unfinished line is not replaced yet');
  appendFileSync(file, `"}\n${line(3, 'RUN_SUCCESS')}\n`);
  for (let i = 0; i < 5 && shipper.lastSeq < 3; i++) await shipper.shipOnce(false);
  const events = await listRunEvents(store, run.id, 0, 100);
  assert.deepEqual(
    events.map((e) => e.type),
    ['RUN_START', 'ENGINE', 'RUN_SUCCESS'],
  );
  assert.equal(
    (events[1]!.data as { droppedBytes: number }).droppedBytes,
    head.length + EVENT_LINE_MAX + 10 + 3 * GROWTH + 2,
  );
});
