// The code server as a real child process, called over real gRPC: every RPC against
// examples/hello and an edge-case location, and the load-error path with a broken module.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { DefaultStatus } from '../../../src/gen/outpost/codeserver/v1/code_server.js';
import { SDK_VERSION } from '../../../src/user-code/sdk/sdk-version.js';
import { spawnCodeServer, type CodeServerProcess } from '../../support/code-server-process.js';

const inbox = mkdtempSync(join(tmpdir(), 'outpost-inbox-'));
process.env.OUTPOST_FILE_SENSOR_DIR = inbox; // inherited by the child
after(() => rmSync(inbox, { recursive: true, force: true }));

const grpcCode = async (p: Promise<unknown>): Promise<number> => {
  try {
    await p;
  } catch (err) {
    return (err as ServiceError).code;
  }
  assert.fail('expected a gRPC error');
};

describe('code server: examples/hello', () => {
  let cs: CodeServerProcess;
  before(async () => {
    cs = await spawnCodeServer('examples/hello/definitions.ts');
  });
  after(async () => {
    assert.equal(await cs.stop(), 0, 'SIGTERM shuts down cleanly');
  });

  test('Ping echoes and names the server; GetServerInfo identifies it', async () => {
    const ping = await cs.call.ping({ echo: 'hi' });
    assert.deepEqual(ping, { echo: 'hi', serverId: cs.serverId });
    const info = await cs.call.getServerInfo({});
    assert.equal(info.serverId, cs.serverId);
    assert.equal(info.sdkVersion, SDK_VERSION);
    assert.equal(info.locationName, 'hello');
    assert.match(info.module, /examples\/hello\/definitions\.ts$/);
    assert.equal(info.loadError, undefined);
    assert.ok(info.startedAtMs > 0 && info.startedAtMs <= Date.now());
  });

  test('GetDefinitions lists jobs with ops, config schemas, schedules and sensors', async () => {
    const defs = await cs.call.getDefinitions({});
    assert.equal(defs.loadError, undefined);
    assert.deepEqual(
      defs.jobs.map((j) => j.name),
      ['hello', 'sleepy', 'chatty', 'fail', 'noop', 'greet_region'],
    );
    const hello = defs.jobs.find((j) => j.name === 'hello')!;
    assert.deepEqual(hello.tags, { team: 'examples' });
    assert.deepEqual(JSON.parse(hello.configSchemaJson), {});
    assert.deepEqual(
      hello.ops.map((o) => [o.name, o.inputs.map((i) => `${i.name}<-${i.fromOp}.${i.fromOutput}`)]),
      [
        ['who', []],
        ['greeting', ['name<-who.result']],
        ['say', ['text<-greeting.result']],
      ],
    );
    const sleepy = JSON.parse(defs.jobs.find((j) => j.name === 'sleepy')!.configSchemaJson) as Record<string, unknown>;
    assert.deepEqual(sleepy.properties, { seconds: { type: 'number', minimum: 0, default: 5 } });
    assert.deepEqual(defs.schedules, [
      {
        name: 'every_minute',
        job: 'hello',
        cron: '* * * * *',
        timezone: 'UTC',
        defaultStatus: DefaultStatus.DEFAULT_STATUS_STOPPED,
        description: 'Says hello every minute.',
      },
    ]);
    assert.equal(defs.sensors.length, 1);
    assert.equal(defs.sensors[0]!.name, 'file_sensor');
    assert.equal(defs.sensors[0]!.minIntervalSeconds, 30);
    assert.deepEqual(defs.partitions, [
      { name: 'regions', kind: { $case: 'static', value: { keys: ['eu', 'us', 'apac'] } } },
    ]);
    assert.equal(defs.jobs.find((j) => j.name === 'greet_region')!.partitions, 'regions');
  });

  test('EvaluateSchedule without an evaluate function requests one run keyed by the tick', async () => {
    const tick = Date.UTC(2025, 0, 2, 3, 4);
    const res = await cs.call.evaluateSchedule({ schedule: 'every_minute', tickTimeMs: tick });
    assert.equal(res.error, undefined);
    assert.equal(res.skipReason, '');
    assert.deepEqual(res.runRequests, [
      {
        runKey: '2025-01-02T03:04:00.000Z',
        job: 'hello',
        runConfigJson: '{}',
        tags: { 'outpost/scheduled_execution_time': '2025-01-02T03:04:00.000Z' },
        partitionKey: '',
      },
    ]);
  });

  test('file_sensor requests one run per new file and advances its cursor', async () => {
    const evaluate = (cursor: string) =>
      cs.call.evaluateSensor({
        sensor: 'file_sensor',
        cursor,
        lastTickTimeMs: 0,
        lastRunKey: '',
      });
    const empty = await evaluate('');
    assert.deepEqual([empty.runRequests, empty.skipReason, empty.hasCursor], [[], 'no new files', false]);
    writeFileSync(join(inbox, 'a.csv'), '1');
    writeFileSync(join(inbox, 'b.csv'), '2');
    const first = await evaluate('');
    assert.deepEqual(
      first.runRequests.map((r) => [r.runKey, r.job, r.tags.file]),
      [
        ['a.csv', 'hello', 'a.csv'],
        ['b.csv', 'hello', 'b.csv'],
      ],
    );
    assert.deepEqual([first.cursor, first.hasCursor], ['b.csv', true]);
    writeFileSync(join(inbox, 'c.csv'), '3');
    const second = await evaluate(first.cursor);
    assert.deepEqual(
      second.runRequests.map((r) => r.runKey),
      ['c.csv'],
    );
    assert.equal(second.cursor, 'c.csv');
    const third = await evaluate(second.cursor);
    assert.deepEqual([third.runRequests.length, third.skipReason, third.hasCursor], [0, 'no new files', false]);
  });

  test('static partitions: names, config and tags', async () => {
    const names = await cs.call.getPartitionNames({ job: 'greet_region', nowMs: 0 });
    assert.deepEqual(names.names, ['eu', 'us', 'apac']);
    const config = await cs.call.getPartitionConfig({ job: 'greet_region', partitionKey: 'us' });
    assert.deepEqual(JSON.parse(config.runConfigJson), { region: 'us' });
    const tags = await cs.call.getPartitionTags({ job: 'greet_region', partitionKey: 'eu' });
    assert.deepEqual(tags.tags, { region: 'eu' });
    const bad = cs.call.getPartitionConfig({ job: 'greet_region', partitionKey: 'mars' });
    assert.equal(await grpcCode(bad), status.INVALID_ARGUMENT);
    const notPartitioned = cs.call.getPartitionNames({ job: 'hello', nowMs: 0 });
    assert.equal(await grpcCode(notPartitioned), status.INVALID_ARGUMENT);
  });

  test('GetExecutionPlan orders a whole job and validates subsets', async () => {
    const plan = await cs.call.getExecutionPlan({ job: 'hello', opSelection: [] });
    assert.deepEqual(plan.steps, [
      { key: 'who', dependsOn: [], level: 0 },
      { key: 'greeting', dependsOn: ['who'], level: 1 },
      { key: 'say', dependsOn: ['greeting'], level: 2 },
    ]);
    const subset = await cs.call.getExecutionPlan({
      job: 'hello',
      opSelection: ['say', 'greeting'],
    });
    assert.deepEqual(subset.steps, [
      { key: 'greeting', dependsOn: [], level: 0 },
      { key: 'say', dependsOn: ['greeting'], level: 1 },
    ]);
    const unknownOp = cs.call.getExecutionPlan({ job: 'hello', opSelection: ['nope'] });
    assert.equal(await grpcCode(unknownOp), status.INVALID_ARGUMENT);
  });

  test('unknown job, schedule and sensor are NOT_FOUND', async () => {
    assert.equal(await grpcCode(cs.call.getExecutionPlan({ job: 'x', opSelection: [] })), status.NOT_FOUND);
    assert.equal(await grpcCode(cs.call.evaluateSchedule({ schedule: 'x', tickTimeMs: 1 })), status.NOT_FOUND);
    const sensor = cs.call.evaluateSensor({
      sensor: 'x',
      cursor: '',
      lastTickTimeMs: 0,
      lastRunKey: '',
    });
    assert.equal(await grpcCode(sensor), status.NOT_FOUND);
  });
});

describe('code server: edge cases', () => {
  let cs: CodeServerProcess;
  before(async () => {
    cs = await spawnCodeServer('test/fixtures/user-code/edge-location/definitions.ts', ['--call-timeout-ms', '500'], {
      OUTPOST_AGENT_TOKEN: 'agent-secret',
      OUTPOST_TOKEN: 'user-secret',
    });
  });
  after(async () => {
    await cs.stop();
  });

  test('schedule evaluation: run requests, skips, time zone and RUNNING default status', async () => {
    const defs = await cs.call.getDefinitions({});
    const weekdays = defs.schedules.find((s) => s.name === 'weekdays')!;
    assert.deepEqual(
      [weekdays.timezone, weekdays.defaultStatus],
      ['Europe/Paris', DefaultStatus.DEFAULT_STATUS_RUNNING],
    );
    const tick = Date.UTC(2025, 0, 7, 8);
    const res = await cs.call.evaluateSchedule({ schedule: 'weekdays', tickTimeMs: tick });
    assert.deepEqual(res.runRequests, [
      {
        runKey: 'weekdays-2025-01-07T08:00:00.000Z',
        job: 'diamond',
        runConfigJson: '{"size":5}',
        tags: { origin: 'weekdays' },
        partitionKey: '',
      },
    ]);
    const skip = await cs.call.evaluateSchedule({
      schedule: 'weekdays',
      tickTimeMs: Date.UTC(2025, 4, 1, 7),
    });
    assert.deepEqual([skip.runRequests, skip.skipReason], [[], 'no runs on the first of the month']);
  });

  test('a user-code exception comes back as a structured error, not a transport failure', async () => {
    const res = await cs.call.evaluateSchedule({ schedule: 'throws', tickTimeMs: 1 });
    assert.equal(res.error?.name, 'Error');
    assert.equal(res.error?.message, 'schedule exploded');
    assert.equal(res.error?.phase, 'schedule:throws');
    assert.match(res.error?.stack ?? '', /edge-location\/definitions\.ts/);
    const sensor = await cs.call.evaluateSensor({
      sensor: 'broken_sensor',
      cursor: '',
      lastTickTimeMs: 0,
      lastRunKey: '',
    });
    assert.deepEqual(
      [sensor.error?.name, sensor.error?.message, sensor.error?.phase],
      ['SyntaxError', 'sensor exploded', 'sensor:broken_sensor'],
    );
    const wrongJob = await cs.call.evaluateSensor({
      sensor: 'wrong_job',
      cursor: '',
      lastTickTimeMs: 0,
      lastRunKey: '',
    });
    assert.deepEqual([wrongJob.runRequests, wrongJob.error?.phase], [[], 'sensor:wrong_job']);
    assert.match(wrongJob.error?.message ?? '', /job "not_a_job", which is not in this location/);
    const tags = await cs.call.getPartitionTags({ job: 'report', partitionKey: '2024-01-02' });
    assert.deepEqual([tags.error?.name, tags.error?.message], ['RangeError', 'no tags for the second of January']);
  });

  test('a hanging user call ends with DEADLINE_EXCEEDED after the call timeout, and the server stays up', async () => {
    const hang = cs.call.evaluateSchedule({ schedule: 'hangs', tickTimeMs: 1 });
    assert.equal(await grpcCode(hang), status.DEADLINE_EXCEEDED);
    const ping = await cs.call.ping({ echo: 'still here' });
    assert.equal(ping.echo, 'still here');
  });

  test('user code in the code server never sees control-plane tokens', async () => {
    const res = await cs.call.evaluateSensor({ sensor: 'env_sensor', cursor: '', lastTickTimeMs: 0, lastRunKey: '' });
    assert.equal(res.skipReason, 'secrets visible: 0');
  });

  test('sensor cursor and last run key round-trip', async () => {
    const first = await cs.call.evaluateSensor({
      sensor: 'counter',
      cursor: '',
      lastTickTimeMs: 0,
      lastRunKey: '',
    });
    assert.deepEqual(
      [first.runRequests[0]?.runKey, first.runRequests[0]?.tags.previous, first.cursor],
      ['count-1', 'none', '1'],
    );
    const second = await cs.call.evaluateSensor({
      sensor: 'counter',
      cursor: first.cursor,
      lastTickTimeMs: 1000,
      lastRunKey: 'count-1',
    });
    assert.deepEqual(
      [second.runRequests[0]?.runKey, second.runRequests[0]?.tags.previous, second.cursor],
      ['count-2', 'count-1', '2'],
    );
  });

  test('time-window partitions: ended windows only, config and tags from the key', async () => {
    const names = await cs.call.getPartitionNames({
      job: 'report',
      nowMs: Date.UTC(2024, 0, 4, 12),
    });
    assert.deepEqual(names.names, ['2024-01-01', '2024-01-02', '2024-01-03']);
    const defs = await cs.call.getDefinitions({});
    assert.deepEqual(defs.partitions, [
      {
        name: 'daily',
        kind: {
          $case: 'timeWindow',
          value: { start: '2024-01-01', cadence: 'daily', timezone: 'UTC', format: 'yyyy-MM-dd' },
        },
      },
    ]);
    const config = await cs.call.getPartitionConfig({
      job: 'report',
      partitionKey: '2024-01-03',
    });
    assert.deepEqual(JSON.parse(config.runConfigJson), { date: '2024-01-03' });
  });

  test('execution plan for a diamond: levels let b and c run together; subsets drop outside deps', async () => {
    const plan = await cs.call.getExecutionPlan({ job: 'diamond', opSelection: [] });
    assert.deepEqual(plan.steps, [
      { key: 'a', dependsOn: [], level: 0 },
      { key: 'b', dependsOn: ['a'], level: 1 },
      { key: 'c', dependsOn: ['a'], level: 1 },
      { key: 'd', dependsOn: ['b', 'c'], level: 2 },
    ]);
    const subset = await cs.call.getExecutionPlan({ job: 'diamond', opSelection: ['d', 'c'] });
    assert.deepEqual(subset.steps, [
      { key: 'c', dependsOn: [], level: 0 },
      { key: 'd', dependsOn: ['c'], level: 1 },
    ]);
  });
});

describe('code server: a module that fails to load', () => {
  let cs: CodeServerProcess;
  before(async () => {
    cs = await spawnCodeServer('test/fixtures/user-code/broken-location/definitions.ts', ['--location', 'broken']);
  });
  after(async () => {
    assert.equal(await cs.stop(), 0);
  });

  test('still serves, and reports the load error in GetServerInfo and GetDefinitions', async () => {
    const info = await cs.call.getServerInfo({});
    assert.equal(info.locationName, 'broken');
    assert.equal(info.loadError?.name, 'TypeError');
    assert.equal(info.loadError?.message, 'broken on purpose: cannot import this location');
    assert.equal(info.loadError?.phase, 'load');
    assert.match(info.loadError?.stack ?? '', /broken-location\/definitions\.ts/);
    const defs = await cs.call.getDefinitions({});
    assert.deepEqual([defs.jobs, defs.schedules, defs.sensors], [[], [], []]);
    assert.equal(defs.loadError?.message, info.loadError?.message);
  });

  test('calls that need user code are FAILED_PRECONDITION', async () => {
    const calls = [
      cs.call.evaluateSchedule({ schedule: 'any', tickTimeMs: 1 }),
      cs.call.evaluateSensor({ sensor: 'any', cursor: '', lastTickTimeMs: 0, lastRunKey: '' }),
      cs.call.getPartitionNames({ job: 'any', nowMs: 0 }),
      cs.call.getExecutionPlan({ job: 'any', opSelection: [] }),
    ];
    for (const call of calls) assert.equal(await grpcCode(call), status.FAILED_PRECONDITION);
  });
});

describe('code server: a module whose import hangs', () => {
  test('gives up after --load-timeout-ms and serves a timeout load error', async () => {
    const cs = await spawnCodeServer('test/fixtures/user-code/hanging-location/definitions.ts', [
      '--load-timeout-ms',
      '300',
    ]);
    try {
      const info = await cs.call.getServerInfo({});
      assert.equal(info.loadError?.phase, 'load');
      assert.match(info.loadError?.message ?? '', /did not answer in time: importing .* took longer than 300 ms/);
    } finally {
      // The module's pending top-level await must not keep the server from shutting down.
      assert.equal(await cs.stop(), 0);
    }
  });
});

describe('code server: a job whose zod config has no JSON Schema', () => {
  // The SDK no longer converts configs itself (the code server does, for GetDefinitions): such a
  // schema must still be the location's load error, not a failing GetDefinitions (an INTERNAL
  // status the agent took for a server that failed to start, and restarted it again and again).
  test('is served as the load error, naming the job', async () => {
    const cs = await spawnCodeServer('test/fixtures/user-code/unconvertible-config/definitions.ts');
    try {
      const defs = await cs.call.getDefinitions({});
      assert.deepEqual(defs.jobs, []);
      assert.equal(defs.loadError?.phase, 'load');
      assert.match(defs.loadError?.message ?? '', /job lenient: .*Dynamic catch values/);
      assert.equal((await cs.call.getServerInfo({})).loadError?.message, defs.loadError?.message);
    } finally {
      assert.equal(await cs.stop(), 0);
    }
  });
});
