// One public event sequence per run, on SQLite and PostgreSQL: worker and ENGINE events share
// seqs 1..N without gap in the order they were stored; a worker event past a gap in worker seqs
// stays invisible until the gap fills, then takes the next seqs in worker order; afterSeq paging
// sees every event once; and data stored under the old scheme (ENGINE seqs from 1,000,000,000)
// is renumbered by the migration.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../../src/control-plane/store/connect.js';
import { migrateTo } from '../../../src/control-plane/store/migrations.js';
import { appendRunEvents, listRunEvents } from '../../../src/control-plane/store/run-events.js';
import { appendEngineEvent, getRun } from '../../../src/control-plane/store/runs.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { describeEachDialect } from '../../support/storage.js';

const ev = (seq: number, type = 'LOG') => ({ seq, type, timestamp: 1_700_000_000_000 + seq, message: `w${seq}` });

describeEachDialect('one public event sequence', (target) => {
  let store: Store;
  before(async () => {
    store = await Store.open({ url: await target.freshUrl() });
  });
  after(() => store.close());
  const newRun = async () =>
    (await store.transaction((trx) => createRun(trx, store, { location: 'l', job: 'j', runConfig: {}, tags: {} }))).run
      .id;
  const engine = (id: string, message: string) =>
    store.transaction((trx) => appendEngineEvent(trx, store, id, message, 'info'));
  const story = async (id: string) =>
    (await listRunEvents(store, id, 0, 100)).map((e) => `${e.seq}:${e.workerSeq ?? 'E'}:${e.message}`);

  test('ENGINE events take the next seq, between worker events, in the order stored', async () => {
    const id = await newRun();
    await engine(id, 'launched');
    await appendRunEvents(store, id, [ev(1, 'RUN_START'), ev(2)]);
    await engine(id, 'note');
    await appendRunEvents(store, id, [ev(3, 'RUN_SUCCESS')]);
    await engine(id, 'ended');
    assert.deepEqual(await story(id), ['1:E:launched', '2:1:w1', '3:2:w2', '4:E:note', '5:3:w3', '6:E:ended']);
    const run = await getRun(store.db, id);
    assert.equal(run?.lastSeq, 3, 'the worker cursor counts worker seqs only');
    assert.equal(run?.eventSeq, 6);
  });

  test('a worker event past a gap waits unnumbered, then follows its predecessors', async () => {
    const id = await newRun();
    await appendRunEvents(store, id, [ev(1, 'RUN_START')]);
    assert.equal((await appendRunEvents(store, id, [ev(4), ev(3)])).highestContiguousSeq, 1);
    assert.deepEqual(await story(id), ['1:1:w1'], 'events past the gap are not visible yet');
    await engine(id, 'meanwhile');
    assert.equal((await appendRunEvents(store, id, [ev(2), ev(3)])).highestContiguousSeq, 4);
    assert.deepEqual(await story(id), ['1:1:w1', '2:E:meanwhile', '3:2:w2', '4:3:w3', '5:4:w4']);
  });

  test('a resent batch overlapping events that wait past a gap numbers each once, in worker order', async () => {
    const id = await newRun();
    await appendRunEvents(store, id, [ev(1)]);
    await appendRunEvents(store, id, [ev(3), ev(5)]);
    await engine(id, 'meanwhile');
    // 2 and 4 are new, 3 and 5 are already stored (unnumbered); 2 repeats within the batch.
    assert.equal(
      (await appendRunEvents(store, id, [ev(2), ev(2), ev(3), ev(4), ev(5), ev(6)])).highestContiguousSeq,
      6,
    );
    assert.deepEqual(await story(id), ['1:1:w1', '2:E:meanwhile', '3:2:w2', '4:3:w3', '5:4:w4', '6:5:w5', '7:6:w6']);
    assert.equal((await getRun(store.db, id))?.eventSeq, 7);
  });

  test('conflicts are found wherever the stored copy is: numbered after ENGINE events, or waiting', async () => {
    const conflict = (e: unknown) => isOutpostError(e, 'RUN_EVENT_CONFLICT');
    const id = await newRun();
    await appendRunEvents(store, id, [ev(1, 'RUN_START')]);
    await engine(id, 'e1');
    await engine(id, 'e2');
    await appendRunEvents(store, id, [ev(2)]);
    // Worker seq 2 is public seq 4: a changed re-send is refused, an identical one is not.
    await assert.rejects(appendRunEvents(store, id, [{ ...ev(2), message: 'changed' }]), conflict);
    assert.equal((await appendRunEvents(store, id, [ev(1, 'RUN_START'), ev(2)])).highestContiguousSeq, 2);
    // Worker seq 4 waits past a gap: a changed copy of it is refused with its whole batch.
    await appendRunEvents(store, id, [ev(4, 'RUN_SUCCESS')]);
    await assert.rejects(appendRunEvents(store, id, [ev(3), { ...ev(4, 'RUN_SUCCESS'), message: 'x' }]), conflict);
    // A second terminal event, while the first still waits: refused too.
    await assert.rejects(appendRunEvents(store, id, [ev(3), ev(5, 'RUN_FAILURE')]), conflict);
    assert.deepEqual(await story(id), ['1:1:w1', '2:E:e1', '3:E:e2', '4:2:w2']);
    assert.deepEqual(await appendRunEvents(store, id, [ev(3), ev(4, 'RUN_SUCCESS')]), {
      highestContiguousSeq: 4,
      status: 'SUCCESS',
    });
    assert.deepEqual((await story(id)).slice(4), ['5:3:w3', '6:4:w4']);
  });

  test('afterSeq paging returns every event exactly once, ENGINE events included', async () => {
    const id = await newRun();
    for (let w = 1; w <= 20; w += 2) {
      await appendRunEvents(store, id, [ev(w), ev(w + 1)]);
      await engine(id, `e${w}`);
    }
    const seen: number[] = [];
    for (let afterSeq = 0, i = 0; i < 100; i++) {
      const page = await listRunEvents(store, id, afterSeq, 7);
      if (!page.length) break;
      seen.push(...page.map((e) => e.seq));
      afterSeq = page[page.length - 1]!.seq;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
  });
});

describeEachDialect('event sequence migration', (target) => {
  test('old rows: worker events keep their seq, ENGINE events are renumbered after them', async () => {
    const url = await target.freshUrl();
    const opened = openDatabase<unknown>({ url });
    const db = opened.db;
    try {
      await migrateTo(db, opened.dialect, '0002_agent_token');
      const run = (id: string, lastSeq: number, engineSeq: number) => sql`
        INSERT INTO runs (id, status, job, location, run_config, tags, created_at, updated_at, last_seq,
                          engine_seq, stdout_bytes, stderr_bytes, log_bytes_stored, logs_truncated)
        VALUES (${id}, 'SUCCESS', 'j', 'l', '{}', '{}', 1, 1, ${lastSeq}, ${engineSeq}, 0, 0, 0, 0)`;
      const event = (runId: string, seq: number, type: string) => sql`
        INSERT INTO run_events (run_id, seq, type, timestamp, message)
        VALUES (${runId}, ${seq}, ${type}, ${seq}, ${`m${seq}`})`;
      await run('r1', 3, 1_000_000_002).execute(db);
      for (const [seq, type] of [
        [1, 'RUN_START'],
        [2, 'LOG'],
        [3, 'RUN_SUCCESS'],
        [1_000_000_001, 'ENGINE'],
        [1_000_000_002, 'ENGINE'],
      ] as const)
        await event('r1', seq, type).execute(db);
      // r2 has a gap in worker seqs (4 stored, 3 not) and no ENGINE event.
      await run('r2', 2, 1_000_000_000).execute(db);
      for (const seq of [1, 2, 4]) await event('r2', seq, 'LOG').execute(db);
    } finally {
      await db.destroy();
    }
    const store = await Store.open({ url });
    try {
      const story = async (id: string) =>
        (await listRunEvents(store, id, 0, 100)).map((e) => `${e.seq}:${e.workerSeq ?? 'E'}:${e.message}`);
      assert.deepEqual(await story('r1'), ['1:1:m1', '2:2:m2', '3:3:m3', '4:E:m1000000001', '5:E:m1000000002']);
      assert.equal((await getRun(store.db, 'r1'))?.eventSeq, 5);
      assert.deepEqual(
        await store.transaction((trx) => appendEngineEvent(trx, store, 'r1', 'later', 'info')),
        undefined,
      );
      assert.equal((await listRunEvents(store, 'r1', 5, 10))[0]?.seq, 6);
      // r2: the event past the gap is kept, unnumbered, and takes its place once 3 arrives.
      assert.deepEqual(await story('r2'), ['1:1:m1', '2:2:m2']);
      assert.equal((await appendRunEvents(store, 'r2', [ev(3)])).highestContiguousSeq, 4);
      assert.deepEqual(await story('r2'), ['1:1:m1', '2:2:m2', '3:3:w3', '4:4:m4']);
    } finally {
      await store.close();
    }
  });
});
