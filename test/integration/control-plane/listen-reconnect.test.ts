// Two control-plane replicas on one PostgreSQL wake each other's long-polls by LISTEN/NOTIFY.
// After a PostgreSQL restart the LISTEN connection was gone for good: a replica's waiters slept
// until their timeout whatever the other enqueued. It must listen again by itself. A real
// PostgreSQL of this test's own, stopped and started.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Store } from '../../../src/control-plane/store/store.js';
import { startPostgres, type PgCluster } from '../../support/postgres.js';
import { postgresSkipReason } from '../../support/storage.js';
import { until } from '../../support/wait.js';

describe('LISTEN across a PostgreSQL restart', { skip: postgresSkipReason() }, () => {
  let pg: PgCluster;
  let a: Store;
  let b: Store;

  before(async () => {
    pg = await startPostgres();
    a = await Store.open({ url: pg.url });
    b = await Store.open({ url: pg.url });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    pg?.stop();
  });

  /** Whether b's waiter (10 min timeout) is woken by a's NOTIFY within 20 s. */
  async function wakesAcross(): Promise<boolean> {
    let woken = false;
    const abort = new AbortController();
    const waiting = b.signals.waitFor('work', 600_000, abort.signal).then(() => (woken = true));
    try {
      await until(
        'a NOTIFY from the other replica',
        () => {
          if (!woken) a.signals.notifyWork();
          return woken;
        },
        20_000,
        250,
      ).catch(() => undefined);
      return woken;
    } finally {
      abort.abort();
      await waiting;
    }
  }

  test("after a restart, one replica's enqueue wakes the other's waiters again", async () => {
    assert.equal(await wakesAcross(), true, 'before the restart');
    pg.pause();
    await new Promise((r) => setTimeout(r, 500));
    pg.restart();
    assert.equal(await wakesAcross(), true, 'after the restart');
  });
});
