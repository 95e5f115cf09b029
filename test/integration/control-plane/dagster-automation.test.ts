// Schedules and sensors on the control-plane side of the Dagster contract, over GraphQL with an
// agent answering through the agent API, on SQLite and PostgreSQL: testSchedule / testSensor
// evaluate without launching or storing anything, a sensor's error is answered as data, run keys
// travel as tags (dagster/run_key for Dagster locations) and dedupe, and an evaluation error
// fails the tick with the error on the tick history.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Daemon } from '../../../src/control-plane/daemon/daemon.js';
import { createToken } from '../../../src/control-plane/store/tokens.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';
import { loadedLocation, openHarness, type Harness } from '../../support/control-plane-harness.js';
import { answerNext, counts, loadedDagsterLocation } from './dagster-location.js';

const TEST_SCHEDULE = `mutation($i: TestScheduleInput!) { testSchedule(input: $i) {
  runRequests { runKey job runConfig tags partitionKey } skipReason cursor error } }`;
const TEST_SENSOR = `mutation($i: TestSensorInput!) { testSensor(input: $i) {
  runRequests { runKey job runConfig tags partitionKey } skipReason cursor error } }`;

type Evaluation = { runRequests: unknown[]; skipReason: string | null; cursor: string | null; error: string | null };

describeEachDialect('Dagster schedules and sensors (control plane)', (target) => {
  let h: Harness;
  let agentId: string;
  let daemon: Daemon;
  before(async () => {
    h = await openHarness(await target.freshUrl(), { storeLimits: { locationQueryWaitMs: 4000 } });
    await loadedLocation(h, 'hello');
    agentId = await loadedDagsterLocation(h);
    daemon = new Daemon(h.store, createLogger({ name: 'test', level: 'silent' }));
  });
  after(() => h.close());

  const state = async () => ({
    ...(await counts(h)),
    ticks: (await h.store.db.selectFrom('ticks').selectAll().execute()).length,
    instigators: await h.store.db.selectFrom('instigators').selectAll().execute(),
  });

  test('testSchedule evaluates at tickTime (default now) and launches nothing', async () => {
    const before = await state();
    const asked = h.gql<{ testSchedule: Evaluation }>('user', TEST_SCHEDULE, {
      i: { location: 'dag', name: 'greeting_job_schedule', tickTime: 1_767_268_800_000 },
    });
    const request = {
      runKey: 'r1',
      job: 'greeting_job',
      runConfig: { ops: { greet: { config: { name: 'x' } } } },
      tags: { team: 'a' },
    };
    const item = await answerNext(h, agentId, 'EVALUATE_SCHEDULE', () => ({ result: { runRequests: [request] } }));
    assert.deepEqual(item.payload, {
      location: 'dag',
      schedule: 'greeting_job_schedule',
      tickTimeMs: 1_767_268_800_000,
      dryRun: true,
    });
    const res = await asked;
    assert.deepEqual(res.data?.testSchedule, {
      runRequests: [{ ...request, partitionKey: null }],
      skipReason: null,
      cursor: null,
      error: null,
    });
    const after = await state();
    assert.deepEqual({ ...after, items: after.items - 1 }, before, 'only the answered item was added');

    const now = h.gql<{ testSchedule: Evaluation }>('user', TEST_SCHEDULE, {
      i: { location: 'dag', name: 'greeting_job_schedule' },
    });
    const second = await answerNext(h, agentId, 'EVALUATE_SCHEDULE', () => ({
      result: { runRequests: [], skipReason: 'not today' },
    }));
    assert.equal(second.payload.tickTimeMs, h.clock.now);
    assert.equal((await now).data?.testSchedule.skipReason, 'not today');
  });

  test('testSensor evaluates from a cursor; the new cursor is answered, not stored; no run', async () => {
    const before = await state();
    const asked = h.gql<{ testSensor: Evaluation }>('user', TEST_SENSOR, {
      i: { location: 'dag', name: 'cursor_sensor', cursor: '41' },
    });
    const item = await answerNext(h, agentId, 'EVALUATE_SENSOR', () => ({
      result: { runRequests: [{ runKey: 'k42', job: 'greeting_job' }], cursor: '42' },
    }));
    assert.equal(item.payload.cursor, '41');
    assert.equal(item.payload.dryRun, true);
    const res = await asked;
    assert.deepEqual(res.data?.testSensor, {
      runRequests: [{ runKey: 'k42', job: 'greeting_job', runConfig: {}, tags: {}, partitionKey: null }],
      skipReason: null,
      cursor: '42',
      error: null,
    });
    const after = await state();
    assert.deepEqual({ ...after, items: after.items - 1 }, before);
  });

  test('a sensor that raises is answered as `error`, not a GraphQL error', async () => {
    const asked = h.gql<{ testSensor: Evaluation }>('user', TEST_SENSOR, {
      i: { location: 'dag', name: 'cursor_sensor' },
    });
    await answerNext(h, agentId, 'EVALUATE_SENSOR', () => ({
      error: { code: 'OUTPOST_ERR_USER_CODE_ERROR', message: 'Exception: sensor exploded' },
    }));
    const res = await asked;
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.deepEqual(res.data?.testSensor, {
      runRequests: [],
      skipReason: null,
      cursor: null,
      error: 'OUTPOST_ERR_USER_CODE_ERROR: Exception: sensor exploded',
    });
  });

  test('unknown location, schedule or sensor, and a VIEWER, are refused with codes; nothing enqueued', async () => {
    const before = await counts(h);
    const cases: Array<[string, Record<string, unknown>, string]> = [
      [TEST_SCHEDULE, { location: 'nope', name: 'x' }, 'OUTPOST_ERR_UNKNOWN_LOCATION'],
      [TEST_SCHEDULE, { location: 'dag', name: 'nope' }, 'OUTPOST_ERR_UNKNOWN_SCHEDULE'],
      [TEST_SENSOR, { location: 'dag', name: 'nope' }, 'OUTPOST_ERR_UNKNOWN_SENSOR'],
    ];
    for (const [q, i, code] of cases) {
      const res = await h.gql('user', q, { i });
      assert.equal(res.errors?.[0]?.extensions?.code, code, JSON.stringify(res));
    }
    const viewer = (await createToken(h.store, 'user', 'viewer', { role: 'VIEWER' })).token;
    const res = await h.gql('user', TEST_SENSOR, { i: { location: 'dag', name: 'cursor_sensor' } }, viewer);
    assert.equal(res.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_ROLE_REQUIRED');
    assert.deepEqual(await counts(h), before);
  });

  test("Dagster's declarative automation is named, not ignored: the sensor says why it cannot run and starting it is refused", async () => {
    const res = await h.gql<{
      codeLocation: {
        sensors: Array<{ name: string; state: string; unsupported: string | null }>;
        assets: Array<{ key: string; automationCondition: string | null; freshnessPolicy: string | null }>;
      };
    }>(
      'user',
      `{ codeLocation(name: "dag") { sensors { name state unsupported } assets { key automationCondition freshnessPolicy } } }`,
    );
    const loc = res.data!.codeLocation;
    assert.deepEqual(
      loc.sensors.map((s) => [s.name, s.state, s.unsupported !== null]),
      [
        ['cursor_sensor', 'STOPPED', false],
        ['default_automation_condition_sensor', 'STOPPED', true],
      ],
    );
    assert.deepEqual(
      loc.assets.map((a) => [a.key, a.automationCondition, a.freshnessPolicy]),
      [
        ['raw/customers', null, null],
        ['summary', 'eager', 'fails when older than 1h'],
      ],
    );
    const before = await state();
    const SET = `mutation($n: String!, $s: AutomationState!) { setSensorState(location: "dag", name: $n, state: $s) { state } }`;
    const started = await h.gql('user', SET, { n: 'default_automation_condition_sensor', s: 'RUNNING' });
    assert.equal(
      started.errors?.[0]?.extensions?.code,
      'OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE',
      JSON.stringify(started),
    );
    assert.match(started.errors?.[0]?.message ?? '', /declarative automation/);
    assert.deepEqual(await state(), before, 'nothing changed');
    // Stopping it (say, one a Dagster default_status left running) is allowed.
    const stopped = await h.gql('user', SET, { n: 'default_automation_condition_sensor', s: 'STOPPED' });
    assert.equal(stopped.errors, undefined, JSON.stringify(stopped));
  });

  test('no agent answers: NO_AGENT_ANSWER', async () => {
    const fast = await openHarness(await target.freshUrl(), { storeLimits: { locationQueryWaitMs: 300 } });
    try {
      await loadedDagsterLocation(fast);
      const res = await fast.gql('user', TEST_SENSOR, { i: { location: 'dag', name: 'cursor_sensor' } });
      assert.equal(res.errors?.[0]?.extensions?.code, 'OUTPOST_ERR_NO_AGENT_ANSWER', JSON.stringify(res));
    } finally {
      await fast.close();
    }
  });

  test('sensor runs carry their run key (dagster/run_key on Dagster locations) and the evaluation tags; keys dedupe', async () => {
    await h.gql('user', 'mutation { setSensorState(location: "dag", name: "cursor_sensor", state: RUNNING) { name } }');
    await h.gql('user', 'mutation { setSensorState(location: "hello", name: "files", state: RUNNING) { name } }');
    const request = (job: string) => ({ runKey: 'k1', job, tags: { team: 'data' } });
    for (let pass = 0; pass < 2; pass++) {
      h.clock.now += 60_000;
      await daemon.runOnce();
      for (let i = 0; i < 2; i++) {
        await answerNext(h, agentId, 'EVALUATE_SENSOR', (w) => ({
          result: {
            runRequests: [request(w.payload.location === 'dag' ? 'greeting_job' : 'hello')],
            cursor: `c${pass}`,
          },
        }));
      }
    }
    const runs = await h.gql<{ runs: { nodes: Array<{ location: string; tags: Record<string, string> }> } }>(
      'user',
      '{ runs(filter: { status: [QUEUED] }) { nodes { location tags } } }',
    );
    const byLoc = Object.fromEntries(runs.data!.runs.nodes.map((r) => [r.location, r.tags]));
    assert.equal(runs.data!.runs.nodes.length, 2, 'one run per sensor: the second k1 is deduped');
    assert.deepEqual(byLoc.dag, {
      team: 'data',
      'outpost/sensor': 'cursor_sensor',
      'dagster/sensor_name': 'cursor_sensor',
      'outpost/run_key': 'k1',
      'dagster/run_key': 'k1',
    });
    assert.deepEqual(byLoc.hello, { team: 'data', 'outpost/sensor': 'files', 'outpost/run_key': 'k1' });
    const sensor = await h.gql<{ codeLocation: { sensors: Array<{ cursor: string }> } }>(
      'user',
      '{ codeLocation(name: "dag") { sensors { cursor } } }',
    );
    assert.equal(sensor.data?.codeLocation.sensors[0]?.cursor, 'c1');
  });

  test('an evaluation error fails the tick, with the error on the tick history', async () => {
    await h.gql(
      'user',
      'mutation { setScheduleState(location: "dag", name: "greeting_job_schedule", state: RUNNING) { name } }',
    );
    h.clock.now += 3_600_000;
    await daemon.runOnce();
    const message = 'run requests with asset events are not supported yet (SensorResult.asset_events)';
    await answerNext(
      h,
      agentId,
      'EVALUATE_SCHEDULE',
      () => ({
        error: { code: 'OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE', message },
      }),
      (w) => w.payload.location === 'dag',
    );
    const res = await h.gql<{
      codeLocation: { schedules: Array<{ ticks: Array<{ status: string; error: string }> }> };
    }>('user', '{ codeLocation(name: "dag") { schedules { ticks { status error } } } }');
    assert.deepEqual(res.data?.codeLocation.schedules[0]?.ticks, [
      { status: 'FAILURE', error: `OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE: ${message}` },
    ]);
  });

  test("a schedule's run carries dagster/scheduled_execution_time, as Dagster's scheduler puts it", async () => {
    h.clock.now += 86_400_000;
    await daemon.runOnce();
    const item = await answerNext(
      h,
      agentId,
      'EVALUATE_SCHEDULE',
      () => ({ result: { runRequests: [{ job: 'greeting_job', runConfig: {}, tags: {} }] } }),
      (w) => w.payload.location === 'dag',
    );
    const tick = Number(item.payload.tickTimeMs);
    const runs = await h.gql<{ runs: { nodes: Array<{ tags: Record<string, string> }> } }>(
      'user',
      '{ runs(filter: { status: [QUEUED] }) { nodes { tags } } }',
    );
    const run = runs.data!.runs.nodes.find((r) => r.tags['outpost/tick'] === String(tick));
    assert.ok(run, JSON.stringify(runs.data));
    // Python's datetime.isoformat() of the tick in UTC: whole seconds, no fraction, +00:00.
    assert.equal(tick % 1000, 0);
    assert.equal(run.tags['dagster/scheduled_execution_time'], new Date(tick).toISOString().replace('.000Z', '+00:00'));
    assert.equal(run.tags['dagster/schedule_name'], 'greeting_job_schedule');
  });
});
