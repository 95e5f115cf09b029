// A job's run tags (user code's snapshot) merged into a manual launch are held to maxRunTags and
// maxRunTagsBytes, as the same job's tick runs are (work-effects tickRuns): past them the launch's
// workflow input could exceed what Temporal takes. Found by review; real stores, both dialects.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEFAULT_API_LIMITS } from '../../../src/control-plane/limits.js';
import { checkLaunchInput } from '../../../src/control-plane/core/input-rules.js';
import { deployCodeLocation } from '../../../src/control-plane/services/locations-service.js';
import { launchRun } from '../../../src/control-plane/services/runs-service.js';
import { reportCodeLocation } from '../../../src/control-plane/store/locations.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { SNAPSHOT } from '../../support/control-plane-harness.js';
import { describeEachDialect } from '../../support/storage.js';

describeEachDialect('a job whose run tags are past the limits', (target) => {
  let store: Store;
  before(async () => {
    store = await Store.open({ url: await target.freshUrl() });
    const loc = await deployCodeLocation(store, { name: 'hello', module: 'x.ts' });
    const runTags = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`t${i}`, 'v'.repeat(1000)]));
    const snapshot = { ...SNAPSHOT, jobs: SNAPSHOT.jobs.map((j) => (j.name === 'hello' ? { ...j, runTags } : j)) };
    await reportCodeLocation(store, { location: 'hello', version: loc.version, status: 'LOADED', snapshot });
  });
  after(async () => store.close());

  test('is refused at launch naming the limit, and no run is written', async () => {
    const input = { location: 'hello', job: 'hello' };
    checkLaunchInput({ ...input, tags: {} }, DEFAULT_API_LIMITS); // the caller's own input is within them
    const err: unknown = await launchRun(store, input).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isOutpostError(err), `expected a coded refusal, got ${String(err)}`);
    assert.equal(err.code, 'OUTPOST_ERR_INPUT_TOO_LARGE');
    assert.match(err.message, /maxRunTags/);
    const runs = await store.db.selectFrom('runs').select('id').execute();
    assert.deepEqual(runs, []);
  });
});
