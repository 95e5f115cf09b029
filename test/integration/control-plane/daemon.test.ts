// The daemon with an injected clock, on SQLite and PostgreSQL: cron ticks fire once (dedupe
// keys hold across a second daemon and a lost last-tick), missed ticks collapse to the latest
// (after the daemon's downtime, and while no agent begins the ticks it enqueued), sensors carry
// their cursor and dedupe run keys, and STARTING runs time out.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Daemon } from '../../../src/control-plane/daemon/daemon.js';
import { setScheduleState, setSensorState } from '../../../src/control-plane/services/instigators-service.js';
import { reportRunLaunched } from '../../../src/control-plane/services/runs-service.js';
import { listTicks } from '../../../src/control-plane/store/instigators.js';
import { reportCodeLocation } from '../../../src/control-plane/store/locations.js';
import { deployCodeLocation } from '../../../src/control-plane/services/locations-service.js';
import { FIXED_INPUT_LIMITS } from '../../../src/control-plane/limits.js';
import { getRun } from '../../../src/control-plane/store/runs.js';
import { createRun } from '../../../src/control-plane/services/runs-service.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { listWorkItems } from '../../../src/control-plane/store/work-items.js';
import { claimWork, completeWork } from '../../../src/control-plane/services/work-service.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';
import { SNAPSHOT, loadedInStore } from '../../support/control-plane-harness.js';

const at = (h: number, m: number, s = 0) => Date.UTC(2026, 0, 1, h, m, s);

describeEachDialect('daemon', (target) => {
  let store: Store;
  let other: Store;
  const clock = { now: at(12, 0, 30) };
  const logger = createLogger({ name: 'test', level: 'silent' });
  let daemon: Daemon;
  let second: Daemon;

  before(async () => {
    const url = await target.freshUrl();
    store = await Store.open({ url, clock: () => clock.now });
    // A second replica's daemon; on SQLite the same store (one connection per process).
    other = target.dialect === 'postgres' ? await Store.open({ url, clock: () => clock.now }) : store;
    daemon = new Daemon(store, logger, { startingTimeoutMs: 60_000 });
    second = new Daemon(other, logger, { startingTimeoutMs: 60_000 });
    await loadedInStore(store);
  });
  after(async () => {
    if (other !== store) await other.close();
    await store.close();
  });

  const scheduleItems = async () =>
    (await listWorkItems(store, { kind: 'EVALUATE_SCHEDULE' }, 100)).map((w) => w.dedupeKey).sort();

  test('a schedule fires each due tick once, across two daemons and a lost last-tick', async () => {
    // First sight sets the baseline: no tick for the past.
    assert.deepEqual((await daemon.runOnce()).schedulesFired, []);
    clock.now = at(12, 1, 5);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, ['hello/every_minute']);
    assert.deepEqual((await second.runOnce()).schedulesFired, []);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, []);
    // A daemon that lost its last tick (restored backup, racing replica) computes the same key.
    await store.db
      .updateTable('instigators')
      .set({ last_tick_at: at(12, 0, 0) })
      .where('name', '=', 'every_minute')
      .execute();
    assert.deepEqual((await second.runOnce()).schedulesFired, []);
    assert.deepEqual(await scheduleItems(), [`schedule:hello:every_minute:${at(12, 1)}`]);
    const ticks = await listTicks(store, 'hello', 'SCHEDULE', 'every_minute', 10);
    assert.deepEqual(
      ticks.map((t) => [t.tickTime, t.status]),
      [[at(12, 1), 'STARTED']],
    );
  });

  test('after downtime only the most recent missed tick fires', async () => {
    clock.now = at(12, 5, 10);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, ['hello/every_minute']);
    assert.deepEqual(await scheduleItems(), [
      `schedule:hello:every_minute:${at(12, 1)}`,
      `schedule:hello:every_minute:${at(12, 5)}`,
    ]);
    // The 12:01 tick no agent began is skipped for it, as the missed 12:02-12:04 were.
    const t1 = (await listTicks(store, 'hello', 'SCHEDULE', 'every_minute', 10)).find((t) => t.tickTime === at(12, 1));
    assert.equal(t1?.status, 'SKIPPED');
    assert.match(t1?.skipReason ?? '', /^superseded: the tick of 2026-01-01T12:05:00.000Z came due first/);
  });

  test('completing a tick creates its runs once and records the tick', async () => {
    const items = await claimWork(store, { agentId: 'A', limit: 10, waitMs: 0 });
    const tick = items.find((i) => i.payload.tickTimeMs === at(12, 5))!;
    const result = { runRequests: [{ job: 'hello', runConfig: {}, tags: { from: 'cron' } }] };
    await completeWork(store, 'A', tick.id, result);
    await completeWork(store, 'A', tick.id, result);
    const ticks = await listTicks(store, 'hello', 'SCHEDULE', 'every_minute', 10);
    const done = ticks.find((t) => t.tickTime === at(12, 5))!;
    assert.equal(done.status, 'SUCCESS');
    assert.equal(done.runIds.length, 1);
    const run = await getRun(store.db, done.runIds[0]!);
    assert.equal(run?.status, 'QUEUED');
    assert.equal(run.tags.from, 'cron');
    assert.equal(run.tags['outpost/schedule'], 'every_minute');
    const launches = await listWorkItems(store, { kind: 'LAUNCH_RUN', runId: run.id }, 10);
    assert.equal(launches.length, 1);
    assert.equal(
      items.find((i) => i.payload.tickTimeMs === at(12, 1)),
      undefined,
      'the superseded tick is not claimed',
    );
  });

  test('a stopped schedule does not fire; restarting it fires from the next tick only', async () => {
    await setScheduleState(store, 'hello', 'every_minute', 'STOPPED');
    clock.now = at(12, 9, 1);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, []);
    await setScheduleState(store, 'hello', 'every_minute', 'RUNNING');
    assert.deepEqual((await daemon.runOnce()).schedulesFired, []);
    clock.now = at(12, 10, 0);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, ['hello/every_minute']);
    await setScheduleState(store, 'hello', 'every_minute', 'STOPPED');
    for (const i of await claimWork(store, { agentId: 'A', limit: 10, waitMs: 0 })) {
      await completeWork(store, 'A', i.id, { runRequests: [] }).catch(() => undefined);
    }
  });

  test('a sensor ticks each interval with its cursor; run keys dedupe runs', async () => {
    assert.deepEqual((await daemon.runOnce()).sensorsFired, [], 'STOPPED by default');
    await setSensorState(store, 'hello', 'files', 'RUNNING');
    assert.deepEqual((await daemon.runOnce()).sensorsFired, ['hello/files']);
    assert.deepEqual((await second.runOnce()).sensorsFired, []);
    let [item] = (await claimWork(store, { agentId: 'A', limit: 10, waitMs: 0 })).filter(
      (i) => i.kind === 'EVALUATE_SENSOR',
    );
    assert.equal(item?.payload.cursor, null);
    const req = { runKey: 'file-a', job: 'hello', runConfig: {}, tags: {} };
    await completeWork(store, 'A', item.id, { runRequests: [req], cursor: 'c1' });

    clock.now += 10_000;
    assert.deepEqual((await daemon.runOnce()).sensorsFired, [], 'within minInterval');
    clock.now += 30_000;
    assert.deepEqual((await daemon.runOnce()).sensorsFired, ['hello/files']);
    [item] = (await claimWork(store, { agentId: 'A', limit: 10, waitMs: 0 })).filter(
      (i) => i.kind === 'EVALUATE_SENSOR',
    );
    assert.equal(item?.payload.cursor, 'c1');
    await completeWork(store, 'A', item.id, { runRequests: [req, { ...req, runKey: 'file-b' }], cursor: 'c2' });
    const runs = await store.db
      .selectFrom('runs')
      .select('dedupe_key')
      .where('dedupe_key', 'like', 'sensor:%')
      .execute();
    assert.deepEqual(runs.map((r) => r.dedupe_key).sort(), ['sensor:hello:files:file-a', 'sensor:hello:files:file-b']);
    const ticks = await listTicks(store, 'hello', 'SENSOR', 'files', 10);
    assert.deepEqual(
      ticks.map((t) => [t.status, t.runIds.length, t.cursor]),
      [
        ['SUCCESS', 1, 'c2'],
        ['SUCCESS', 1, 'c1'],
      ],
    );
    await setSensorState(store, 'hello', 'files', 'STOPPED');
  });

  test("a sensor's cursor past maxSensorCursorBytes fails its tick, naming the limit; runs and cursor stay", async () => {
    // The cursor is the next tick's workflow input: stored, it would fail every later tick.
    await setSensorState(store, 'hello', 'files', 'RUNNING');
    clock.now += 60_000;
    assert.deepEqual((await daemon.runOnce()).sensorsFired, ['hello/files']);
    const evaluations = async () =>
      (await claimWork(store, { agentId: 'A', limit: 10, waitMs: 0 })).filter((i) => i.kind === 'EVALUATE_SENSOR');
    const [item] = await evaluations();
    const before = item?.payload.cursor;
    const huge = 'x'.repeat(FIXED_INPUT_LIMITS.maxSensorCursorBytes + 1);
    const req = { runKey: 'file-huge', job: 'hello', runConfig: {}, tags: {} };
    await completeWork(store, 'A', item!.id, { runRequests: [req], cursor: huge });
    const [tick] = await listTicks(store, 'hello', 'SENSOR', 'files', 1);
    assert.equal(tick?.status, 'FAILURE');
    assert.match(tick?.error ?? '', /OUTPOST_ERR_INPUT_TOO_LARGE.*maxSensorCursorBytes/);
    assert.deepEqual(tick?.runIds, []);
    const made = await store.db
      .selectFrom('runs')
      .select('id')
      .where('dedupe_key', '=', 'sensor:hello:files:file-huge')
      .execute();
    assert.deepEqual(made, [], 'no run from the failed tick');
    clock.now += 60_000;
    assert.deepEqual((await daemon.runOnce()).sensorsFired, ['hello/files']);
    const [next] = await evaluations();
    assert.equal(next?.payload.cursor, before, 'the next tick carries the cursor from before');
    await completeWork(store, 'A', next!.id, { runRequests: [] });
    await setSensorState(store, 'hello', 'files', 'STOPPED');
  });

  test('a run stuck in STARTING past the timeout fails with an ENGINE event', async () => {
    const { run } = await store.transaction((trx) =>
      createRun(trx, store, { location: 'hello', job: 'hello', runConfig: {}, tags: {} }),
    );
    // Only the agent that claimed the launch may report it launched.
    const claimed = await claimWork(store, { agentId: 'A', limit: 50, waitMs: 0 });
    assert.ok(claimed.some((i) => i.kind === 'LAUNCH_RUN' && i.runId === run.id));
    await reportRunLaunched(store, 'A', run.id, { pid: 1 });
    clock.now += 59_000;
    assert.deepEqual((await daemon.runOnce()).runsTimedOut, []);
    clock.now += 2_000;
    assert.deepEqual((await daemon.runOnce()).runsTimedOut, [run.id]);
    assert.deepEqual((await second.runOnce()).runsTimedOut, []);
    const after = await getRun(store.db, run.id);
    assert.equal(after?.status, 'FAILURE');
    const events = await store.db
      .selectFrom('run_events')
      .selectAll()
      .where('run_id', '=', run.id)
      .orderBy('seq')
      .execute();
    assert.match(events.at(-1)?.message ?? '', /STARTING timeout/);
  });
  test("an ERROR location's schedules and sensors do not tick; once it loads, the latest missed tick fires", async () => {
    // A redeploy whose code no longer imports: the last good definitions stay listed, but as in
    // Dagster (its daemons skip a location with a load error) nothing ticks there, since a
    // manual launch is refused (LOCATION_NOT_LOADED) and a run would meet the broken code.
    const v1 = await deployCodeLocation(store, { name: 'broken', module: 'x.ts' });
    await reportCodeLocation(store, { location: 'broken', version: v1.version, status: 'LOADED', snapshot: SNAPSHOT });
    clock.now = at(13, 0, 30);
    await daemon.runOnce(); // first sight sets the schedule's baseline
    await setScheduleState(store, 'broken', 'every_minute', 'RUNNING');
    await setSensorState(store, 'broken', 'files', 'RUNNING');
    const v2 = await deployCodeLocation(store, { name: 'broken', module: 'y.ts' });
    await reportCodeLocation(store, { location: 'broken', version: v2.version, status: 'ERROR', error: 'SyntaxError' });
    clock.now = at(13, 3, 5);
    const during = await daemon.runOnce();
    assert.deepEqual(
      [during.schedulesFired, during.sensorsFired].flat().filter((k) => k.startsWith('broken/')),
      [],
      'nothing of the ERROR location ticked',
    );
    assert.deepEqual(during.locationsSkipped, ['broken']);
    assert.deepEqual(await listTicks(store, 'broken', 'SCHEDULE', 'every_minute', 10), []);
    assert.deepEqual(await listTicks(store, 'broken', 'SENSOR', 'files', 10), []);
    // Fixed and loaded again: the schedule fires its latest missed tick, the sensor ticks.
    const v3 = await deployCodeLocation(store, { name: 'broken', module: 'x.ts' });
    await reportCodeLocation(store, { location: 'broken', version: v3.version, status: 'LOADED', snapshot: SNAPSHOT });
    const back = await daemon.runOnce();
    assert.deepEqual(back.locationsSkipped, []);
    assert.ok(back.schedulesFired.includes('broken/every_minute'), String(back.schedulesFired));
    assert.ok(back.sensorsFired.includes('broken/files'), String(back.sensorsFired));
    const ticks = await listTicks(store, 'broken', 'SCHEDULE', 'every_minute', 10);
    assert.deepEqual(
      ticks.map((t) => t.tickTime),
      [at(13, 3)],
    );
    await setScheduleState(store, 'broken', 'every_minute', 'STOPPED');
    await setSensorState(store, 'broken', 'files', 'STOPPED');
  });

  /** hello/every_minute's ticks by tick time. */
  const hello = async (): Promise<Map<number, { status: string; skipReason: string | null }>> =>
    new Map((await listTicks(store, 'hello', 'SCHEDULE', 'every_minute', 50)).map((t) => [t.tickTime, t]));
  /** What agent A claims of hello's schedule ticks now. */
  const claimTicks = async () =>
    (await claimWork(store, { agentId: 'A', limit: 50, waitMs: 0 })).filter(
      (i) => i.kind === 'EVALUATE_SCHEDULE' && i.payload.location === 'hello',
    );

  /** hello/every_minute started at hh:00:30, and its hh:01 tick enqueued. */
  const runningWithFirstTick = async (hour: number) => {
    clock.now = at(hour, 0, 30);
    await setScheduleState(store, 'hello', 'every_minute', 'RUNNING');
    await daemon.runOnce();
    clock.now = at(hour, 1, 5);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, ['hello/every_minute']);
  };

  test('a tick no agent begins is skipped when the next comes due, saying why; a live claim is left alone', async () => {
    // Agents (or their Temporal) away for a few minutes: without this every minute's tick
    // waited in the queue and all of them fired at once when the agents came back.
    await runningWithFirstTick(14);
    clock.now = at(14, 2, 5);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, ['hello/every_minute']);
    let ticks = await hello();
    assert.equal(ticks.get(at(14, 1))?.status, 'SKIPPED', 'the 14:01 tick no agent began');
    assert.match(ticks.get(at(14, 1))?.skipReason ?? '', /superseded: .*no agent began it/);
    assert.equal(ticks.get(at(14, 2))?.status, 'STARTED');
    const [item1] = await listWorkItems(store, { kind: 'EVALUATE_SCHEDULE' }, 100).then((all) =>
      all.filter((w) => w.payload.location === 'hello' && w.payload.tickTimeMs === at(14, 1)),
    );
    assert.equal(item1?.status, 'FAILED');
    assert.match(JSON.stringify(item1?.error), /OUTPOST_ERR_TICK_SUPERSEDED/);

    // An agent claims 14:02 (a live lease, 60 s): the 14:03 tick leaves it alone.
    const [claimed] = await claimTicks();
    assert.equal(claimed?.payload.tickTimeMs, at(14, 2));
    clock.now = at(14, 3, 2);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, ['hello/every_minute']);
    ticks = await hello();
    assert.equal(ticks.get(at(14, 2))?.status, 'STARTED', 'a live claim is left alone');
    // Its lease lapsed without a workflow (the agent's Temporal away): 14:04 skips it and 14:03.
    clock.now = at(14, 4, 3);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, ['hello/every_minute']);
    ticks = await hello();
    assert.match(ticks.get(at(14, 2))?.skipReason ?? '', /^superseded: the tick of 2026-01-01T14:04:00.000Z came due/);
    assert.equal(ticks.get(at(14, 3))?.status, 'SKIPPED');
    assert.equal(ticks.get(at(14, 4))?.status, 'STARTED');
    // The agent's evaluation of 14:02 still arrives: it makes no run.
    await completeWork(store, 'A', claimed.id, { runRequests: [{ job: 'hello', runConfig: {}, tags: {} }] });
    assert.equal((await hello()).get(at(14, 2))?.status, 'SKIPPED');
    const runs = await store.db
      .selectFrom('runs')
      .select('id')
      .where('dedupe_key', 'like', `schedule:hello:every_minute:${at(14, 2)}:%`)
      .execute();
    assert.deepEqual(runs, [], 'no run from a superseded tick');
    // An agent is back: 14:04 is evaluated, 14:05 fires as usual.
    const [latest] = await claimTicks();
    assert.equal(latest?.payload.tickTimeMs, at(14, 4));
    await completeWork(store, 'A', latest.id, { runRequests: [] });
    clock.now = at(14, 5, 1);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, ['hello/every_minute']);
    assert.equal((await hello()).get(at(14, 4))?.status, 'SKIPPED');
    assert.equal((await hello()).get(at(14, 4))?.skipReason, 'no run requests');
    await setScheduleState(store, 'hello', 'every_minute', 'STOPPED');
  });

  test('a tick whose next came due before an agent claimed it is not claimed: it is skipped, also when its schedule stopped', async () => {
    // An agent back from an outage between the next tick coming due and the daemon's pass that
    // enqueues it claimed the waiting tick, a live claim that tick then left alone: both fired,
    // two runs for one outage (seen in the Temporal-outage fault test).
    await runningWithFirstTick(15);
    clock.now = at(15, 2, 1);
    assert.deepEqual(
      (await claimTicks()).map((i) => i.payload.tickTimeMs),
      [],
      'the 15:01 tick, once 15:02 is due, is not claimed',
    );
    assert.deepEqual((await daemon.runOnce()).schedulesFired, ['hello/every_minute']);
    let ticks = await hello();
    assert.match(ticks.get(at(15, 1))?.skipReason ?? '', /^superseded: the tick of 2026-01-01T15:02:00.000Z came due/);
    const [latest] = await claimTicks();
    assert.equal(latest?.payload.tickTimeMs, at(15, 2));
    await completeWork(store, 'A', latest.id, { runRequests: [] });

    // A stopped schedule makes no next tick: its waiting tick is skipped when the next would
    // have come due, not left STARTED for ever.
    clock.now = at(15, 3, 2);
    assert.deepEqual((await daemon.runOnce()).schedulesFired, ['hello/every_minute']);
    await setScheduleState(store, 'hello', 'every_minute', 'STOPPED');
    clock.now = at(15, 4, 1);
    assert.deepEqual(await claimTicks(), []);
    await daemon.runOnce();
    ticks = await hello();
    assert.equal(ticks.get(at(15, 3))?.status, 'SKIPPED');
    assert.match(
      ticks.get(at(15, 3))?.skipReason ?? '',
      /^superseded: its next tick \(2026-01-01T15:04:00.000Z\) came due first/,
    );
    const [item] = (await listWorkItems(store, { kind: 'EVALUATE_SCHEDULE' }, 100)).filter(
      (w) => w.payload.location === 'hello' && w.payload.tickTimeMs === at(15, 3),
    );
    assert.equal(item?.status, 'FAILED');
    assert.match(JSON.stringify(item?.error), /OUTPOST_ERR_TICK_SUPERSEDED/);
  });
});
