// DagsterCodeLocation (the CodeLocationPort of Dagster locations) against real `dagster api grpc`
// servers: schedule and sensor ticks, the sensor cursor, failing and unsupported sensors,
// partitions, and the execution plan with Dagster's own invalid-config message.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CodeLocationPort } from '../../../activities/ports.js';
import type { CodeServerManager } from '../../../src/agent/code-server-manager.js';
import { DagsterCodeLocation } from '../../../src/agent/dagster/dagster-code-location.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { createLogger } from '../../../src/shared/logger.js';
import { EXAMPLE_DIR, LOCATIONS_DIR, RecordingControlPlane, dagsterManager, skip } from './dagster-manager-harness.js';

if (skip) console.log(`# skipping DagsterCodeLocation tests: ${skip}`);

const coded = (name: Parameters<typeof isOutpostError>[1], pattern: RegExp) => (err: unknown) => {
  assert.ok(isOutpostError(err, name), `expected ${name}, got ${String(err)}`);
  assert.match(err.message, pattern);
  return true;
};

describe('DagsterCodeLocation', { skip }, () => {
  const cp = new RecordingControlPlane();
  let manager: CodeServerManager;
  let port: CodeLocationPort;
  /** The same, with a 2 s call deadline instead of Dagster's 60 s. */
  let impatient: CodeLocationPort;

  before(async () => {
    manager = dagsterManager(cp);
    const logger = createLogger({ name: 'test', level: 'silent' });
    port = new DagsterCodeLocation(manager, { logger });
    impatient = new DagsterCodeLocation(manager, { logger, callTimeoutMs: 2_000 });
    cp.set('example', 1, { pythonFile: 'definitions.py', workingDirectory: EXAMPLE_DIR });
    cp.set('sensors', 1, { pythonFile: 'sensors.py', workingDirectory: LOCATIONS_DIR });
    assert.deepEqual(await port.sync({ location: 'example', version: 1 }), { status: 'LOADED' });
    assert.deepEqual(await port.sync({ location: 'sensors', version: 1 }), { status: 'LOADED' });
    cp.set('fruit', 1, { pythonFile: 'asset_sensors.py', workingDirectory: LOCATIONS_DIR });
    assert.deepEqual(await port.sync({ location: 'fruit', version: 1 }), { status: 'LOADED' });
  });
  after(async () => {
    await manager?.stop();
  });

  test('schedules: a plain tick and a partitioned tick', async () => {
    const tick = await port.evaluateSchedule({
      location: 'example',
      schedule: 'greeting_job_schedule',
      tickTimeMs: Date.UTC(2026, 11, 29, 2),
    });
    assert.equal(tick.runRequests.length, 1);
    assert.equal(tick.runRequests[0]!.job, 'greeting_job', "the schedule's own job");
    assert.equal(tick.runRequests[0]!.tags['dagster/schedule_name'], 'greeting_job_schedule');
    const daily = await port.evaluateSchedule({
      location: 'example',
      schedule: 'daily_job_schedule',
      tickTimeMs: Date.UTC(2026, 11, 30, 0),
    });
    const r = daily.runRequests[0]!;
    assert.deepEqual([r.job, r.partitionKey, r.runKey], ['daily_job', '2026-12-29', '2026-12-29']);
    assert.equal(r.tags['dagster/run_key'], '2026-12-29');
    assert.equal(r.tags['dagster/partition'], '2026-12-29');
  });

  test('sensors: the cursor goes 1 → 2 and round-trips as an opaque string', async () => {
    const first = await port.evaluateSensor({ location: 'example', sensor: 'every_tick', cursor: null });
    assert.equal(first.cursor, '1');
    assert.deepEqual(first.runRequests[0], {
      job: 'greeting_job',
      runConfig: { ops: { greet: { config: { name: 'tick 1' } } } },
      tags: { 'dagster/sensor_name': 'every_tick', 'dagster/run_key': 'tick-1' },
      runKey: 'tick-1',
    });
    const second = await port.evaluateSensor({ location: 'example', sensor: 'every_tick', cursor: first.cursor });
    assert.equal(second.cursor, '2');
    assert.equal(second.runRequests[0]?.runKey, 'tick-2');
    const skipped = await port.evaluateSensor({ location: 'example', sensor: 'every_tick', cursor: 'abc' });
    assert.deepEqual(skipped, { runRequests: [], cursor: 'abc', skipReason: 'nothing new since abc' });
  });

  test("sensors' run requests carry their asset selection, as Dagster's daemon runs them", async () => {
    // A sensor that targets assets: Dagster gives each request the sensor's selection, on the
    // asset job. Dropped, the run materialized every asset of that job.
    const targeted = await port.evaluateSensor({ location: 'fruit', sensor: 'pears_and_plums' });
    const [all] = targeted.runRequests;
    assert.deepEqual([...(all?.assetSelection ?? [])].sort(), ['pears', 'plums']);
    assert.match(all?.job ?? '', /^__ASSET_JOB/);
    const one = await port.evaluateSensor({ location: 'fruit', sensor: 'only_plums' });
    assert.deepEqual(
      one.runRequests.map((r) => [r.job, r.assetSelection]),
      [['fruit_job', ['plums']]],
    );
    // A plain request still names no selection: the whole job runs.
    const plain = await port.evaluateSensor({ location: 'example', sensor: 'every_tick', cursor: null });
    assert.equal(plain.runRequests[0]?.assetSelection, undefined);
  });

  test('an op selection Dagster can plan says the agent launches it; one it cannot is refused in its words', async () => {
    const q = { location: 'fruit', job: 'basket_job', query: 'executionPlan' } as const;
    const plan = await port.query({ ...q, opSelection: ['fill'] });
    assert.equal(plan.launchesOpSelection, true);
    assert.deepEqual(
      (plan.answer as Array<{ key: string }>).map((s) => s.key),
      ['fill'],
    );
    assert.equal((await port.query(q)).launchesOpSelection, undefined, 'no selection, no claim');
    await assert.rejects(
      port.query({ ...q, opSelection: ['count'] }),
      coded('INVALID_ARGUMENT', /basket_job: .*invalid graph/s),
    );
  });

  test('a sensor that raises fails with the Python error; unsupported results fail the tick', async () => {
    await assert.rejects(
      port.evaluateSensor({ location: 'sensors', sensor: 'raising_sensor' }),
      coded('USER_CODE_ERROR', /ValueError: the sensor broke on purpose/),
    );
    await assert.rejects(
      port.evaluateSensor({ location: 'sensors', sensor: 'asset_event_sensor' }),
      coded('UNSUPPORTED_DAGSTER_FEATURE', /asset_events/),
    );
    await assert.rejects(
      port.evaluateSensor({ location: 'sensors', sensor: 'dynamic_partitions_sensor' }),
      coded('UNSUPPORTED_DAGSTER_FEATURE', /dynamic_partitions_requests/),
    );
    // Dagster's documented pattern (add a key, request a run of it) raises in the code server,
    // which has no instance to check the new key against: refused as dynamic partitions, not as
    // a user-code error whose text (1.9-1.11) blames an "older dagster-webserver".
    await assert.rejects(
      port.evaluateSensor({ location: 'sensors', sensor: 'new_customer_sensor' }),
      coded('UNSUPPORTED_DAGSTER_FEATURE', /new_customer_sensor uses dynamic partitions.*static or time-window/s),
    );
    // Dagster adds a sensor for declarative automation; its daemon evaluates it, never the code
    // server (which raises NotImplementedError): refused as what it is, without a call.
    await assert.rejects(
      port.evaluateSensor({ location: 'sensors', sensor: 'default_automation_condition_sensor' }),
      coded('UNSUPPORTED_DAGSTER_FEATURE', /declarative automation/),
    );
    // A run-status sensor reads the Dagster instance, which Outpost gives user code no access to:
    // the refusal says so (not "user code raised"), with Dagster's own words after it.
    await assert.rejects(
      port.evaluateSensor({ location: 'sensors', sensor: 'after_success' }),
      coded(
        'UNSUPPORTED_DAGSTER_FEATURE',
        /reads the Dagster instance.*run-status.*no instance reference was provided/s,
      ),
    );
  });

  test('a sensor that hangs ends at the call deadline with a coded timeout', async () => {
    const t0 = Date.now();
    await assert.rejects(
      impatient.evaluateSensor({ location: 'sensors', sensor: 'hanging_sensor' }),
      coded('USER_CODE_TIMEOUT', /took longer than 2000 ms/),
    );
    assert.ok(Date.now() - t0 < 10_000);
    // The server itself still answers other calls meanwhile.
    await (await manager.dagsterServer('sensors', 1_000)).checkHealth(5_000);
  });

  test('a server killed under a call: UNAVAILABLE is retried against the restarted server', async () => {
    const pid = (await manager.dagsterServer('example', 1_000)).child.pid!;
    process.kill(pid, 'SIGKILL');
    const r = await port.evaluateSensor({ location: 'example', sensor: 'every_tick', cursor: '5' });
    assert.equal(r.cursor, '6');
    assert.notEqual((await manager.dagsterServer('example', 1_000)).child.pid, pid);
  });

  test('partitions: names, config and tags', async () => {
    const q = { location: 'example', job: 'paint_job' } as const;
    assert.deepEqual((await port.query({ ...q, query: 'partitionNames', first: 1000 })).answer, {
      keys: ['red', 'green', 'blue'],
      offset: 0,
      total: 3,
    });
    // Asked without paging (a control plane from before it): the whole list, as it expects.
    assert.deepEqual((await port.query({ ...q, query: 'partitionNames' })).answer, ['red', 'green', 'blue']);
    assert.deepEqual((await port.query({ ...q, query: 'partitionConfig', partitionKey: 'green' })).answer, {});
    const tags = (await port.query({ ...q, query: 'partitionTags', partitionKey: 'green' })).answer;
    assert.equal((tags as Record<string, string>)['dagster/partition'], 'green');
    const daily = (await port.query({ location: 'example', job: 'daily_job', query: 'partitionNames', first: 1 }))
      .answer;
    assert.equal((daily as { keys: string[] }).keys[0], '2026-11-01');
    const run = (
      await port.query({ location: 'example', job: 'multi_job', query: 'partitionRun', partitionKey: 'red|2026-11-02' })
    ).answer;
    assert.equal((run as { tags: Record<string, string> }).tags['dagster/partition/color'], 'red');
    await assert.rejects(
      port.query({ location: 'example', job: 'customer_job', query: 'partitionRun', partitionKey: 'acme' }),
      coded('UNSUPPORTED_DAGSTER_FEATURE', /dynamic partitions/),
    );
    await assert.rejects(
      port.query({ location: 'example', job: 'greeting_job', query: 'partitionNames' }),
      coded('UNKNOWN_PARTITION', /not partitioned/),
    );
  });

  test("execution plan: steps with levels, Dagster's own invalid-config message, asset selection", async () => {
    const plan = await port.query({
      location: 'example',
      job: 'greeting_job',
      query: 'executionPlan',
      runConfig: { ops: { greet: { config: { name: 'x' } } } },
    });
    assert.deepEqual(plan.answer, [
      { key: 'greet', dependsOn: [], level: 0 },
      { key: 'shout', dependsOn: ['greet'], level: 1 },
    ]);
    await assert.rejects(
      port.query({
        location: 'example',
        job: 'greeting_job',
        query: 'executionPlan',
        runConfig: { ops: { greet: { config: { nam: 'typo' } } } },
      }),
      coded('CONFIG_SCHEMA_VIOLATION', /Received unexpected config entry "nam" at path root:ops:greet:config/),
    );
    const assets = await port.query({
      location: 'example',
      job: '__ASSET_JOB',
      query: 'executionPlan',
      assetSelection: ['doubled_numbers'],
    });
    assert.deepEqual(
      (assets.answer as { key: string }[]).map((s) => s.key),
      ['doubled_numbers'],
    );
    await assert.rejects(
      port.query({ location: 'example', job: '__ASSET_JOB', query: 'executionPlan', assetSelection: ['nope'] }),
      coded('INVALID_ARGUMENT', /unknown asset key\(s\) nope/),
    );
  });

  test('unknown schedule, sensor and job are coded errors', async () => {
    await assert.rejects(
      port.evaluateSchedule({ location: 'example', schedule: 'nope', tickTimeMs: 0 }),
      coded('UNKNOWN_SCHEDULE', /nope/),
    );
    await assert.rejects(port.evaluateSensor({ location: 'example', sensor: 'nope' }), coded('UNKNOWN_SENSOR', /nope/));
    await assert.rejects(
      port.query({ location: 'example', job: 'nope', query: 'partitionNames' }),
      coded('UNKNOWN_JOB', /nope/),
    );
  });
});
