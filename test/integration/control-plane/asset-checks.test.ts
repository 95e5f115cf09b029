// Asset checks' latest evaluations (Asset.checks), on SQLite and PostgreSQL: each check's latest
// evaluation however many of its siblings' came after it, read in one query for all the
// location's assets and only when `checks` is asked for; only ENGINE events that carry a check
// are indexed as evaluations; migration 0015 fills the check columns of rows stored before it.
// Before (main at 6f96cc2): a check last evaluated before its sibling's 200 newest showed
// "never evaluated", the read cost 1 + up to 200 queries per asset, and a plain ENGINE event
// with an asset key was indexed as a check evaluation.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SelectQueryNode, sql, type KyselyPlugin } from 'kysely';
import { createControlPlaneFetchHandler, type Store } from '../../../src/control-plane/index.js';
import { openDatabase } from '../../../src/control-plane/store/connect.js';
import { JsonText } from '../../../src/control-plane/store/json-text.js';
import { migrateTo } from '../../../src/control-plane/store/migrations.js';
import { appendRunEvents, type RunEventInput } from '../../../src/control-plane/store/run-events.js';
import { Store as StoreClass } from '../../../src/control-plane/store/store.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';
import { openHarness, type Harness } from '../../support/control-plane-harness.js';
import { loadedDagsterLocation } from './dagster-location.js';

/**
 * The store with each SELECT sent that reads asset_events or run_events counted: counted when its
 * result comes back (Kysely also transforms the builders a query is composed of, one by one).
 */
function countingEventReads(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const readsEvents = new WeakSet<object>();
  const plugin: KyselyPlugin = {
    transformQuery: ({ node, queryId }) => {
      if (SelectQueryNode.is(node) && /"name":"(asset_events|run_events)"/.test(JSON.stringify(node))) {
        readsEvents.add(queryId);
      }
      return node;
    },
    transformResult: ({ result, queryId }) => {
      if (readsEvents.has(queryId)) reads++;
      return Promise.resolve(result);
    },
  };
  const counted = Object.create(store, { db: { value: store.db.withPlugin(plugin) } }) as Store;
  return { store: counted, reads: () => reads };
}

/** A check evaluation as the run worker's shim ships it: an ENGINE event keyed by the checked asset. */
const checkEvent = (seq: number, name: string, passed: boolean, timestamp: number, metadata?: object) => ({
  seq,
  type: 'ENGINE',
  timestamp,
  assetKey: 'summary',
  level: passed ? 'debug' : 'error',
  message: `Asset check '${name}' on 'summary' ${passed ? 'passed' : 'did not pass'}.`,
  data: {
    dagsterEventType: 'ASSET_CHECK_EVALUATION',
    assetCheck: { name, assetKey: 'summary', passed, severity: 'ERROR' },
    ...(metadata ? { metadata } : {}),
  },
});

const newRun = async (store: Store): Promise<string> =>
  (
    await store.transaction((trx) =>
      createRun(trx, store, { location: 'dag', job: '__ASSET_JOB', runConfig: {}, tags: {} }),
    )
  ).run.id;

interface CheckOut {
  name: string;
  lastEvaluation: { runId: string; timestamp: number; passed: boolean; metadata: unknown } | null;
}

describeEachDialect('asset checks: latest evaluations', (target) => {
  let h: Harness;
  let counted: ReturnType<typeof countingEventReads>;
  let user: (query: string) => Promise<Record<string, unknown>>;
  before(async () => {
    h = await openHarness(await target.freshUrl());
    await loadedDagsterLocation(h);
    counted = countingEventReads(h.store);
    const handler = createControlPlaneFetchHandler({
      store: counted.store,
      logger: createLogger({ name: 'test', level: 'silent' }),
      web: false,
    });
    user = async (query) => {
      const res = await handler(
        new Request('http://127.0.0.1/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${h.userToken}` },
          body: JSON.stringify({ query }),
        }),
      );
      const body = (await res.json()) as { data?: Record<string, unknown>; errors?: unknown };
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      return body.data!;
    };
  });
  after(() => h.close());

  test('a check that failed once behind 250 evaluations of its sibling still shows failed; one query for all', async () => {
    const reads = async (query: string) => {
      const before = counted.reads();
      const data = await user(query);
      return { reads: counted.reads() - before, data };
    };
    const PLAIN = `{ codeLocation(name: "dag") { assets { key lastMaterialization { runId } } } }`;
    const plainBefore = await reads(PLAIN);
    const runId = await newRun(h.store);
    const t = 1_700_000_000_000;
    const events: RunEventInput[] = [checkEvent(1, 'fresh', false, t, { age_hours: 30 })];
    for (let i = 0; i < 250; i++) events.push(checkEvent(2 + i, 'no_negatives', true, t + 1 + i));
    await appendRunEvents(h.store, runId, events);

    const withChecks = await reads(
      `{ codeLocation(name: "dag") { assets { key lastMaterialization { runId }
         checks { name lastEvaluation { runId timestamp passed metadata } } } } }`,
    );
    const assets = (withChecks.data.codeLocation as { assets: Array<{ key: string; checks: CheckOut[] }> }).assets;
    const summary = assets.find((a) => a.key === 'summary')!;
    assert.deepEqual(summary.checks, [
      { name: 'no_negatives', lastEvaluation: { runId, timestamp: t + 250, passed: true, metadata: null } },
      { name: 'fresh', lastEvaluation: { runId, timestamp: t, passed: false, metadata: { age_hours: 30 } } },
      { name: 'never_run', lastEvaluation: null },
    ]);
    const plain = await reads(PLAIN);
    assert.equal(plain.reads, plainBefore.reads, 'checks not asked for: no check read, however many evaluations');
    assert.equal(withChecks.reads - plain.reads, 1, 'the checks of all the assets: one query');
  });

  test('an ENGINE event with an asset key but no check is not indexed; a check shipped as event-line text is', async () => {
    const runId = await newRun(h.store);
    await appendRunEvents(h.store, runId, [
      { seq: 1, type: 'ENGINE', timestamp: 5, assetKey: 'summary', data: { dagsterEventType: 'STEP_WORKER_STARTED' } },
      { seq: 2, type: 'ENGINE', timestamp: 6, assetKey: 'summary', data: null },
      // The event-line scanner hands the store data as its text (store/json-text.ts).
      { ...checkEvent(3, 'fresh', true, 7), data: new JsonText(JSON.stringify(checkEvent(3, 'fresh', true, 7).data)) },
    ]);
    const rows = await h.store.db
      .selectFrom('asset_events')
      .select(['worker_seq', 'type', 'check_name', 'check_passed'])
      .where('run_id', '=', runId)
      .execute();
    assert.deepEqual(
      rows.map((r) => ({ ...r, worker_seq: Number(r.worker_seq), check_passed: Number(r.check_passed) })),
      [{ worker_seq: 3, type: 'ASSET_CHECK_EVALUATION', check_name: 'fresh', check_passed: 1 }],
    );
  });
});

describeEachDialect('asset check columns migration (0015)', (target) => {
  test('check rows stored before take their check from their event; an ENGINE row that carries none goes', async () => {
    const url = await target.freshUrl();
    const old = openDatabase<unknown>({ url });
    await migrateTo(old.db, old.dialect, '0014_token_successor');
    const data = (d: unknown) => JSON.stringify(d);
    const event = (seq: number, d: unknown) =>
      sql`INSERT INTO run_events (run_id, seq, worker_seq, type, timestamp, data)
        VALUES ('run_a', ${seq}, ${seq}, 'ENGINE', ${seq * 10}, ${d === null ? null : data(d)})`.execute(old.db);
    await event(1, checkEvent(1, 'fresh', false, 10, { rows: 3 }).data);
    await event(2, { dagsterEventType: 'STEP_WORKER_STARTED' });
    await event(3, checkEvent(3, 'no_negatives', true, 30).data);
    for (const seq of [1, 2, 3]) {
      await sql`INSERT INTO asset_events (run_id, worker_seq, location, asset_key, type, timestamp)
        VALUES ('run_a', ${seq}, 'dag', 'summary', 'ASSET_CHECK_EVALUATION', ${seq * 10})`.execute(old.db);
    }
    await old.db.destroy();
    const store = await StoreClass.open({ url });
    try {
      const rows = await store.db
        .selectFrom('asset_events')
        .select(['worker_seq', 'check_name', 'check_passed', 'check_severity', 'check_metadata'])
        .where('run_id', '=', 'run_a')
        .orderBy('worker_seq')
        .execute();
      assert.deepEqual(
        rows.map((r) => ({ ...r, worker_seq: Number(r.worker_seq), check_passed: Number(r.check_passed) })),
        [
          {
            worker_seq: 1,
            check_name: 'fresh',
            check_passed: 0,
            check_severity: 'ERROR',
            check_metadata: '{"rows":3}',
          },
          { worker_seq: 3, check_name: 'no_negatives', check_passed: 1, check_severity: 'ERROR', check_metadata: null },
        ],
      );
    } finally {
      await store.close();
    }
  });
});
