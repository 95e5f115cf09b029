// The spool: consecutive seqs, nothing after a terminal event, one worker per spool.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EventSpool } from '../../../src/user-code/run-worker/event-spool.js';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'outpost-spool-')), 'events.jsonl');
const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { seq: number; type: string });

describe('EventSpool', () => {
  test('syncSoon: the lines are in the file at once; a close before the deferred fsync is fine', async () => {
    const path = fresh();
    const spool = new EventSpool(path);
    spool.append({ type: 'RUN_START' });
    spool.syncSoon();
    assert.deepEqual(
      lines(path).map((e) => e.type),
      ['RUN_START'],
    );
    spool.close();
    // The deferred fsync finds the spool closed and does nothing (an fsync of a closed fd throws).
    await new Promise((r) => setImmediate(r));
    assert.equal(lines(path).length, 1);
  });

  test('numbers events 1..N and makes them durable on sync; drops events after a terminal one', () => {
    const path = fresh();
    const spool = new EventSpool(path);
    spool.append({ type: 'RUN_START' });
    for (let i = 0; i < 1000; i++) spool.append({ type: 'LOG', level: 'info', message: `m${i}` });
    assert.equal(lines(path).length, 0, 'LOG lines are batched, not written one by one');
    spool.sync();
    assert.equal(lines(path).length, 1001);
    spool.append({ type: 'RUN_SUCCESS' });
    assert.equal(spool.isFinished, true);
    assert.equal(spool.append({ type: 'LOG', message: 'late' }), undefined);
    spool.close();
    const all = lines(path);
    assert.deepEqual(
      all.map((e) => e.seq),
      Array.from({ length: 1002 }, (_, i) => i + 1),
    );
    assert.equal(all.at(-1)!.type, 'RUN_SUCCESS');
  });

  test('refuses a spool that already holds events', () => {
    const path = fresh();
    writeFileSync(path, '{"seq":1}\n');
    assert.throws(() => new EventSpool(path), /already holds events/);
  });
});
