// A real `dagster api grpc` (the venv the test runner builds) serving examples/dagster/ on a Unix
// socket, driven through Outpost's own proto, client, serdes and mapper.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { toUserCodeError } from '../../../src/agent/dagster/dagster-error.js';
import { startDagsterServer, type DagsterServer } from '../../support/dagster-server.js';
import * as serdes from '../../../src/agent/dagster/serdes.js';
import {
  readExecutionPlan,
  readJobData,
  readListRepositories,
  readPartitionNames,
  readRepositoryData,
  readScheduleResult,
  readSensorResult,
  type JobData,
} from '../../../src/agent/dagster/serdes-readers.js';
import { mapDagsterSnapshot } from '../../../src/agent/dagster/snapshot-mapper.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { LocationSnapshotSchema } from '../../../src/shared/location-snapshot.js';

const python = process.env.OUTPOST_TEST_DAGSTER_PYTHON;
const skip = python
  ? false
  : (process.env.OUTPOST_TEST_DAGSTER_SKIP_REASON ??
    'OUTPOST_TEST_DAGSTER_PYTHON is not set: run through scripts/run-tests.ts, which builds the Dagster venv');
if (skip) console.log(`# skipping Dagster code-server tests: ${skip}`);

const EXAMPLE = resolve('examples', 'dagster');
const LOCATION = 'outpost_example';

describe('Dagster code server over a Unix socket', { skip }, () => {
  let server: DagsterServer;
  let origin: serdes.RepositoryOriginInput;
  let originJson: string;

  before(async () => {
    server = await startDagsterServer({
      python: python!,
      pointer: { pythonFile: 'definitions.py' },
      workingDirectory: EXAMPLE,
      locationName: LOCATION,
      heartbeatTimeoutSeconds: 60,
    });
    console.log(`# dagster api grpc: spawn → first Ping ${server.startMs} ms`);
  });
  after(async () => {
    await server?.stop();
  });

  test('Ping, health, server id and heartbeat answer', async () => {
    assert.equal(await server.client.ping('hello'), 'hello');
    assert.equal(await server.client.isServing(), true);
    assert.match(await server.client.getServerId(), /^[0-9a-f-]{36}$/);
    await server.client.heartbeat();
  });

  test('ListRepositories, ExternalRepository and ExternalJob map to a LocationSnapshot', async () => {
    const t0 = performance.now();
    const list = readListRepositories(await server.client.listRepositories());
    assert.ok(list.ok, 'the example loads');
    assert.ok(list.value.dagsterVersion?.startsWith(process.env.OUTPOST_TEST_DAGSTER_VERSION ?? ''));
    origin = { socket: server.socketPath, locationName: LOCATION, repositoryName: list.value.repositories[0]!.name };
    originJson = serdes.serialize(serdes.repositoryOrigin(origin));
    const rawRepo = await server.client.externalRepository(originJson, true);
    assert.equal(await server.client.streamingExternalRepository(originJson, true), rawRepo, 'streamed = unary');
    const repository = readRepositoryData(rawRepo);
    const jobs: Record<string, JobData> = {};
    for (const ref of repository.jobRefs) {
      const job = readJobData(await server.client.externalJob(originJson, ref.name));
      assert.ok(job.ok, ref.name);
      jobs[ref.name] = job.value;
    }
    const snap = mapDagsterSnapshot({ dagsterVersion: list.value.dagsterVersion, repository, jobs });
    console.log(
      `# ListRepositories → mapped snapshot of ${snap.jobs.length} jobs in ${(performance.now() - t0).toFixed(0)} ms`,
    );
    LocationSnapshotSchema.parse(snap);
    const greeting = snap.jobs.find((j) => j.name === 'greeting_job');
    assert.deepEqual(
      greeting?.ops.map((o) => [o.name, o.inputs.map((i) => i.fromOp)]),
      [
        ['greet', []],
        ['shout', ['greet']],
      ],
    );
    assert.deepEqual(snap.schedules.map((s) => s.name).sort(), ['daily_job_schedule', 'greeting_job_schedule']);
    assert.deepEqual(
      snap.assets?.map((a) => [a.key, a.deps]),
      [
        ['doubled_numbers', ['raw_numbers']],
        ['raw_numbers', []],
      ],
    );
  });

  test("ExecutionPlanSnapshot: a plan for valid config, Dagster's own message as data for invalid config", async () => {
    const list = readListRepositories(await server.client.listRepositories());
    assert.ok(list.ok);
    const repo = readRepositoryData(await server.client.externalRepository(originJson, true));
    const snapshotId = repo.jobRefs.find((j) => j.name === 'greeting_job')!.snapshotId;
    const args = (runConfig: unknown) =>
      serdes.executionPlanSnapshotArgs({ origin, jobName: 'greeting_job', snapshotId, runConfig });
    const ok = readExecutionPlan(
      await server.client.executionPlanSnapshot(args({ ops: { greet: { config: { name: 'x' } } } })),
    );
    assert.ok(ok.ok);
    assert.deepEqual(ok.value.stepKeys, ['greet', 'shout']);
    const bad = readExecutionPlan(
      await server.client.executionPlanSnapshot(args({ ops: { greet: { config: { name: 3 } } } })),
    );
    assert.ok(!bad.ok);
    assert.equal(bad.error.clsName, 'DagsterInvalidConfigError');
    assert.match(bad.error.message, /Invalid scalar at path root:ops:greet:config:name/);
  });

  test('a schedule tick and a cursor sensor evaluate; the cursor advances', async () => {
    const tick = readScheduleResult(
      await server.client.scheduleExecution(
        serdes.scheduleExecutionArgs({
          origin,
          scheduleName: 'greeting_job_schedule',
          tickMs: Date.UTC(2026, 11, 29, 2),
        }),
      ),
    );
    assert.ok(tick.ok);
    assert.equal(tick.value.runRequests.length, 1);
    let cursor: string | null = null;
    for (const expected of ['1', '2']) {
      const r = readSensorResult(
        await server.client.sensorExecution(serdes.sensorExecutionArgs({ origin, sensorName: 'every_tick', cursor })),
      );
      assert.ok(r.ok);
      assert.equal(r.value.cursor, expected);
      assert.equal(r.value.runRequests[0]?.runKey, `tick-${expected}`);
      cursor = r.value.cursor;
    }
    const names = readPartitionNames(
      await server.client.partitionNames(
        serdes.partitionNamesArgs({ origin, jobName: 'paint_job', partitionSetName: 'paint_job_partition_set' }),
      ),
    );
    assert.deepEqual(names.ok && names.value, ['red', 'green', 'blue']);
  });
});

describe('Dagster code servers that cannot load', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-dg-broken-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a syntax error is served by ListRepositories as the Python error, as data', async () => {
    writeFileSync(join(dir, 'defs.py'), 'def broken(:\n');
    const server = await startDagsterServer({
      python: python!,
      pointer: { pythonFile: 'defs.py' },
      workingDirectory: dir,
      locationName: 'broken',
    });
    try {
      const list = readListRepositories(await server.client.listRepositories());
      assert.ok(!list.ok);
      const uce = toUserCodeError(list.error, 'load');
      assert.equal(uce.name, 'DagsterUserCodeLoadError');
      assert.match(uce.message, /SyntaxError/);
    } finally {
      await server.stop();
    }
  });

  test('an interpreter without dagster, or none at all, is a load failure naming the cause', async () => {
    await assert.rejects(
      startDagsterServer({
        python: 'python3',
        pointer: { pythonFile: 'defs.py' },
        workingDirectory: dir,
        locationName: 'nodagster',
        env: { PYTHONPATH: '', PYTHONNOUSERSITE: '1' },
      }),
      (e) => isOutpostError(e, 'USER_CODE_LOAD_FAILED') && /No module named dagster/.test(e.message),
    );
    await assert.rejects(
      startDagsterServer({
        python: join(dir, 'no-python'),
        pointer: { pythonFile: 'defs.py' },
        workingDirectory: dir,
        locationName: 'nopython',
      }),
      (e) => isOutpostError(e, 'USER_CODE_LOAD_FAILED') && /ENOENT/.test(e.message),
    );
  });
});
