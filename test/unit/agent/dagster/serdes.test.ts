// Serdes requests and permissive readers, against replies recorded from real Dagster 1.9, 1.11
// and 1.13 code servers serving examples/dagster/.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toUserCodeError } from '../../../../src/agent/dagster/dagster-error.js';
import * as serdes from '../../../../src/agent/dagster/serdes.js';
import {
  expectOk,
  readExecutionPlan,
  readListRepositories,
  readPartitionConfig,
  readPartitionNames,
  readPartitionTags,
  readRepositoryData,
  readScheduleResult,
  readSensorResult,
} from '../../../../src/agent/dagster/serdes-readers.js';
import { isOutpostError } from '../../../../src/shared/errors.js';
import { MINORS, recorded } from './dagster-fixtures.js';

describe('serdes writer', () => {
  test('float fields are written with a decimal point, plain numbers as given, keys sorted', () => {
    assert.equal(
      serdes.serialize({ z: serdes.float(1798596000), a: serdes.float(1.5), n: 3, skip: undefined }),
      '{"a": 1.5, "n": 3, "z": 1798596000.0}',
    );
    assert.equal(serdes.serialize(serdes.float(1e21)), '1e+21');
    assert.throws(() => serdes.serialize(serdes.float(Number.NaN)), /not a finite float/);
  });

  test('a schedule tick in ms becomes float seconds; run config numbers stay as the user wrote them', () => {
    const origin = { socket: '/s.sock', locationName: 'loc', repositoryName: '__repository__' };
    const sched = JSON.parse(serdes.scheduleExecutionArgs({ origin, scheduleName: 's', tickMs: 1798596000000 })) as {
      scheduled_execution_timestamp: number;
    };
    assert.equal(sched.scheduled_execution_timestamp, 1798596000);
    assert.match(
      serdes.scheduleExecutionArgs({ origin, scheduleName: 's', tickMs: 1798596000000 }),
      /: 1798596000\.0,/,
    );
    const plan = serdes.executionPlanSnapshotArgs({
      origin,
      jobName: 'j',
      snapshotId: 'x',
      runConfig: { a: { n: 2 } },
    });
    assert.match(plan, /"run_config": \{"a": \{"n": 2\}\}/);
    assert.match(
      serdes.sensorExecutionArgs({ origin, sensorName: 's', cursor: null, lastTickCompletionMs: 1500 }),
      /"last_tick_completion_time": 1\.5/,
    );
  });
});

for (const minor of MINORS) {
  describe(`Dagster ${minor} replies`, () => {
    // The requests recorded are those the builders wrote and the real server accepted; the
    // builders must still write exactly them (same socket, same inputs).
    test('the builders still write the requests the real server accepted', () => {
      const rec = recorded(minor, 'schedule.greeting_job_schedule');
      const socket = (
        JSON.parse(rec.request) as { repository_origin: { repository_location_origin: { socket: string } } }
      ).repository_origin.repository_location_origin.socket;
      const origin = { socket, locationName: 'outpost_example', repositoryName: '__repository__' };
      assert.equal(
        rec.request,
        serdes.scheduleExecutionArgs({
          origin,
          scheduleName: 'greeting_job_schedule',
          tickMs: Date.UTC(2026, 11, 29, 2),
        }),
      );
      assert.equal(
        recorded(minor, 'sensor.cursor-41').request,
        serdes.sensorExecutionArgs({ origin, sensorName: 'every_tick', cursor: '41' }),
      );
      assert.equal(
        recorded(minor, 'partition-tags.green').request,
        serdes.partitionArgs({
          origin,
          jobName: 'paint_job',
          partitionSetName: 'paint_job_partition_set',
          partitionName: 'green',
        }),
      );
    });

    test('ListRepositories: repository, version and interpreter', () => {
      const r = readListRepositories(recorded(minor, 'list-repositories').reply);
      assert.ok(r.ok);
      assert.deepEqual(r.value.repositories, [{ name: '__repository__', attribute: 'defs' }]);
      assert.ok(r.value.dagsterVersion?.startsWith(`${minor}.`), String(r.value.dagsterVersion));
      assert.equal(r.value.executablePath, '/venv/bin/python');
      assert.ok(r.value.codePointers.__repository__);
    });

    test('ExternalRepository (deferred): job refs with snapshot ids', () => {
      const repo = readRepositoryData(recorded(minor, 'external-repository').reply);
      assert.ok(repo.jobRefs.some((j) => j.name === 'greeting_job' && /^[0-9a-f]{40}$/.test(j.snapshotId)));
    });

    test("ExecutionPlanSnapshot: the plan for valid config, Dagster's own message for invalid config", () => {
      const ok = readExecutionPlan(recorded(minor, 'execution-plan.valid').reply);
      assert.ok(ok.ok);
      assert.deepEqual(ok.value.stepKeys, ['greet', 'shout']);
      assert.deepEqual(ok.value.steps.find((s) => s.key === 'shout')?.upstream, ['greet']);
      const bad = readExecutionPlan(recorded(minor, 'execution-plan.invalid-config').reply);
      assert.ok(!bad.ok);
      assert.equal(bad.error.clsName, 'DagsterInvalidConfigError');
      assert.match(bad.error.message, /Received unexpected config entry "nam" at path root:ops:greet:config/);
      assert.throws(
        () => expectOk(bad, 'execution plan'),
        (e) => isOutpostError(e, 'USER_CODE_ERROR') && /unexpected config entry "nam"/.test(e.message),
      );
    });

    test('partitions: names, config and tags; a job without partitions is an in-band error with its cause', () => {
      assert.deepEqual(expectOk(readPartitionNames(recorded(minor, 'partition-names.paint_job').reply), 'p'), [
        'red',
        'green',
        'blue',
      ]);
      assert.deepEqual(expectOk(readPartitionConfig(recorded(minor, 'partition-config.green').reply), 'p'), {});
      assert.deepEqual(expectOk(readPartitionTags(recorded(minor, 'partition-tags.green').reply), 'p'), {
        'dagster/partition': 'green',
        'dagster/partition_set': 'paint_job_partition_set',
      });
      const none = readPartitionNames(recorded(minor, 'partition-names.no-partitions').reply);
      assert.ok(!none.ok);
      const uce = toUserCodeError(none.error, 'partitions:greeting_job');
      assert.equal(uce.name, 'PartitionExecutionError');
      assert.match(uce.message, /CheckError: .*Job has no PartitionsDefinition/);
      assert.match(uce.stack, /get_partition_names/);
    });

    test('schedules: a plain tick and a partitioned tick', () => {
      const plain = expectOk(readScheduleResult(recorded(minor, 'schedule.greeting_job_schedule').reply), 's');
      assert.equal(plain.skipMessage, null);
      assert.equal(plain.runRequests.length, 1);
      assert.equal(plain.runRequests[0]!.tags['dagster/schedule_name'], 'greeting_job_schedule');
      const daily = expectOk(readScheduleResult(recorded(minor, 'schedule.daily_job_schedule').reply), 's');
      assert.deepEqual(
        daily.runRequests.map((r) => [r.jobName, r.partitionKey, r.runKey]),
        [['daily_job', '2026-12-28', '2026-12-28']],
      );
    });

    test('sensor: the cursor round-trips as an opaque string; skip keeps it; unknown class is an in-band error', () => {
      const first = expectOk(readSensorResult(recorded(minor, 'sensor.first-tick').reply), 's');
      assert.equal(first.cursor, '1');
      assert.equal(first.runRequests[0]!.runKey, 'tick-1');
      const next = expectOk(readSensorResult(recorded(minor, 'sensor.cursor-41').reply), 's');
      assert.equal(next.cursor, '42');
      assert.deepEqual(next.runRequests[0]!.runConfig, { ops: { greet: { config: { name: 'tick 42' } } } });
      assert.deepEqual(next.unsupported, []);
      const skip = expectOk(readSensorResult(recorded(minor, 'sensor.cursor-abc').reply), 's');
      assert.deepEqual([skip.cursor, skip.skipMessage, skip.runRequests.length], ['abc', 'nothing new since abc', 0]);
      const bad = readSensorResult(recorded(minor, 'sensor.unknown-class').reply);
      assert.ok(!bad.ok);
      assert.equal(bad.error.clsName, 'DeserializationError');
    });
  });
}

describe('reader permissiveness and strictness', () => {
  const raw = recorded('1.13', 'sensor.cursor-41').reply;
  test('fields a later Dagster adds are ignored; a result Outpost cannot act on is listed, not dropped', () => {
    const v = JSON.parse(raw) as Record<string, unknown>;
    const r = expectOk(
      readSensorResult(
        JSON.stringify({ ...v, brand_new_field: { x: 1 }, asset_events: [{ __class__: 'AssetMaterialization' }] }),
      ),
      's',
    );
    assert.equal(r.cursor, '42');
    assert.deepEqual(r.unsupported, ['asset_events']);
  });
  test('a reply of another class or not JSON is a bad response, not a crash', () => {
    assert.throws(
      () => readScheduleResult(raw),
      (e) => isOutpostError(e, 'CODE_SERVER_BAD_RESPONSE'),
    );
    assert.throws(
      () => readScheduleResult('<html>'),
      (e) => isOutpostError(e, 'CODE_SERVER_BAD_RESPONSE'),
    );
    assert.throws(
      () => readSensorResult(JSON.stringify({ __class__: 'SensorExecutionData', run_requests: 'nope' })),
      (e) => isOutpostError(e, 'CODE_SERVER_BAD_RESPONSE') && /run_requests/.test(e.message),
    );
  });
});
