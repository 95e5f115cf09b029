// Run events and compute logs on SQLite and PostgreSQL: duplicates and overlaps are harmless,
// the highest contiguous seq is tracked through gaps, status follows events (also CANCELING),
// and the per-run log cap truncates with a visible marker.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appendComputeLogs, readComputeLogs } from '../../../src/control-plane/store/compute-logs.js';
import { appendRunEvents, listRunEvents } from '../../../src/control-plane/store/run-events.js';
import { getRun, setRunStatus } from '../../../src/control-plane/store/runs.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { describeEachDialect } from '../../support/storage.js';

const ev = (seq: number, type = 'LOG') => ({
  seq,
  type,
  timestamp: 1_700_000_000_000 + seq,
  message: `m${seq}`,
  data: { i: seq },
});

describeEachDialect('run events and compute logs', (target) => {
  let store: Store;
  before(async () => {
    store = await Store.open({ url: await target.freshUrl(), limits: { computeLogCapBytes: 20 } });
  });
  after(() => store.close());
  const newRun = async () =>
    (await store.transaction((trx) => createRun(trx, store, { location: 'l', job: 'j', runConfig: {}, tags: {} }))).run
      .id;

  test('duplicates (within and across batches) are ignored; contiguity is tracked through gaps', async () => {
    const id = await newRun();
    assert.deepEqual(await appendRunEvents(store, id, [ev(1, 'RUN_START'), ev(2), ev(2), ev(3)]), {
      highestContiguousSeq: 3,
      status: 'STARTED',
    });
    assert.equal((await appendRunEvents(store, id, [ev(6), ev(5)])).highestContiguousSeq, 3);
    assert.equal((await appendRunEvents(store, id, [])).highestContiguousSeq, 3);
    assert.equal((await appendRunEvents(store, id, [ev(3), ev(4)])).highestContiguousSeq, 6);
    const stored = await listRunEvents(store, id, 0, 100);
    assert.deepEqual(
      stored.map((e) => e.seq),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(stored[1]?.data, { i: 2 });
    assert.equal((await getRun(store.db, id))?.lastSeq, 6);
  });

  test('a batch with a different event at a stored seq is refused whole; the first copy stays', async () => {
    const id = await newRun();
    await appendRunEvents(store, id, [ev(1)]);
    for (const changed of [{ message: 'changed' }, { type: 'STEP_START' }, { timestamp: 2 }, { data: { i: 9 } }]) {
      await assert.rejects(appendRunEvents(store, id, [ev(2), { ...ev(1), ...changed }]), (e: unknown) =>
        isOutpostError(e, 'RUN_EVENT_CONFLICT'),
      );
    }
    // Two different events for one new seq in one batch: refused too.
    await assert.rejects(appendRunEvents(store, id, [ev(2), { ...ev(2), message: 'other' }]), (e: unknown) =>
      isOutpostError(e, 'RUN_EVENT_CONFLICT'),
    );
    assert.deepEqual(
      (await listRunEvents(store, id, 0, 10)).map((e) => [e.seq, e.message]),
      [[1, 'm1']],
    );
    assert.equal((await getRun(store.db, id))?.lastSeq, 1);
    assert.equal(
      (await appendRunEvents(store, id, [ev(1), ev(2), ev(2)])).highestContiguousSeq,
      2,
      'identical re-sends',
    );
  });

  test('events for a CANCELING run still apply; terminal runs keep their status', async () => {
    const id = await newRun();
    await setRunStatus(store.db, store, id, 'CANCELING');
    assert.equal((await appendRunEvents(store, id, [ev(1, 'RUN_START')])).status, 'CANCELING');
    assert.equal((await appendRunEvents(store, id, [ev(2, 'RUN_CANCELED')])).status, 'CANCELED');
    // A run ends once: a second terminal event is refused with its batch, a re-send is not.
    await assert.rejects(appendRunEvents(store, id, [ev(3), ev(4, 'RUN_SUCCESS')]), (e: unknown) =>
      isOutpostError(e, 'RUN_EVENT_CONFLICT'),
    );
    assert.equal((await appendRunEvents(store, id, [ev(2, 'RUN_CANCELED')])).status, 'CANCELED');
    assert.equal((await getRun(store.db, id))?.lastSeq, 2);
    const run = await getRun(store.db, id);
    assert.ok(run?.endedAt);
    const id2 = await newRun();
    await appendRunEvents(store, id2, [ev(1, 'RUN_START')]);
    await setRunStatus(store.db, store, id2, 'CANCELING');
    assert.equal((await appendRunEvents(store, id2, [ev(2, 'RUN_SUCCESS')])).status, 'SUCCESS');
  });

  test('bad events are refused whole; unknown runs are refused', async () => {
    const id = await newRun();
    await assert.rejects(appendRunEvents(store, id, [ev(1), ev(0)]), (e: unknown) =>
      isOutpostError(e, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(appendRunEvents(store, id, [ev(1, 'NOPE')]), (e: unknown) =>
      isOutpostError(e, 'INVALID_ARGUMENT'),
    );
    assert.deepEqual(await listRunEvents(store, id, 0, 10), []);
    await assert.rejects(appendRunEvents(store, 'run_missing', [ev(1)]), (e: unknown) =>
      isOutpostError(e, 'UNKNOWN_RUN'),
    );
  });

  test('compute logs: resends and overlaps store each byte once; a gap is refused', async () => {
    const id = await newRun();
    const put = (offset: number, s: string) => appendComputeLogs(store, id, 'stderr', offset, Buffer.from(s));
    assert.deepEqual(await put(0, 'abc'), { storedBytes: 3, truncated: false });
    assert.deepEqual(await put(0, 'abc'), { storedBytes: 3, truncated: false });
    assert.deepEqual(await put(1, 'bcdef'), { storedBytes: 6, truncated: false });
    await assert.rejects(
      put(10, 'x'),
      (e: unknown) => isOutpostError(e, 'INVALID_ARGUMENT') && e.data?.storedBytes === 6,
    );
    const read = await readComputeLogs(store, id, 'stderr', 0);
    assert.deepEqual(read, { data: 'abcdef', offset: 0, nextOffset: 6, truncated: false });
    assert.equal((await readComputeLogs(store, id, 'stderr', 4)).data, 'ef');
    assert.equal((await readComputeLogs(store, id, 'stdout', 0)).data, '');
  });

  test('compute logs: past the per-run cap data is dropped and readers see a marker', async () => {
    const id = await newRun();
    assert.deepEqual(await appendComputeLogs(store, id, 'stdout', 0, Buffer.from('0123456789')), {
      storedBytes: 10,
      truncated: false,
    });
    // The cap (20 bytes) counts both streams.
    await appendComputeLogs(store, id, 'stderr', 0, Buffer.from('abcdefgh'));
    assert.deepEqual(await appendComputeLogs(store, id, 'stdout', 10, Buffer.from('ABCDEFGHIJ')), {
      storedBytes: 20,
      truncated: true,
    });
    assert.deepEqual(await appendComputeLogs(store, id, 'stdout', 20, Buffer.from('more')), {
      storedBytes: 24,
      truncated: true,
    });
    const read = await readComputeLogs(store, id, 'stdout', 0);
    assert.ok(read.data.startsWith('0123456789AB'), read.data);
    assert.match(read.data, /truncated.*20 bytes per-run cap/);
    assert.equal(read.nextOffset, 24);
    assert.equal(read.truncated, true);
    assert.equal((await readComputeLogs(store, id, 'stdout', 24)).data, '');
  });
});
