// An asset event's key comes from user code in the run (a Dagster op's AssetMaterialization) and
// is indexed by location and key for the asset view. A key past maxAssetKeyBytes is not indexed
// (its event is stored as sent); the batch's other asset events are. Before, on PostgreSQL (whose
// index entries stop at ~2.7 KB), one such key lost every asset row of its batch and answered
// the agent INTERNAL. SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { FIXED_INPUT_LIMITS } from '../../../src/control-plane/limits.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { assetKeysOfRun, lastMaterializations } from '../../../src/control-plane/store/asset-events.js';
import { appendRunEvents, listRunEvents } from '../../../src/control-plane/store/run-events.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { describeEachDialect } from '../../support/storage.js';

describeEachDialect('asset key limit', (target) => {
  let store: Store;

  before(async () => {
    store = await Store.open({ url: await target.freshUrl() });
  });
  after(async () => {
    await store.close();
  });

  test('a batch with an asset key past maxAssetKeyBytes is stored; its other asset events are indexed', async () => {
    const { run } = await store.transaction((trx) =>
      createRun(trx, store, { location: 'hello', job: 'hello', runConfig: {}, tags: {} }),
    );
    // Incompressible: PostgreSQL cannot squeeze it under its index entry limit.
    const long = randomBytes(2 * FIXED_INPUT_LIMITS.maxAssetKeyBytes).toString('hex');
    const t = Date.now();
    const events = [
      { seq: 1, type: 'ASSET_MATERIALIZATION', timestamp: t, assetKey: 'a/b', message: 'ok' },
      { seq: 2, type: 'ASSET_MATERIALIZATION', timestamp: t, assetKey: long, message: long },
    ];
    const result = await appendRunEvents(store, run.id, events);
    assert.equal(result.highestContiguousSeq, 2);
    assert.deepEqual([...(await lastMaterializations(store, 'hello', ['a/b'])).keys()], ['a/b']);
    assert.deepEqual([...(await assetKeysOfRun(store, run.id)).entries()], [[1, 'a/b']]);
    const stored = await listRunEvents(store, run.id, 0, 10);
    assert.equal(stored[1]?.message, long, 'the event itself is stored as sent');
  });
});
