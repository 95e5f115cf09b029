// End to end, with nothing stood in for: examples/dagster deployed as a DAGSTER location over the
// user GraphQL API of a real control plane (SQLite, with its schedule/sensor daemon), served by a
// real agent (in-process, real Temporal dev server) that starts a real `dagster api grpc` and runs
// real `dagster api execute_run` workers. Every wait is bounded (`until`, `waitRun`).
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { ClientError } from 'graphql-request';
import { readProcessRecord, runDir } from '../../../src/agent/launchers/run-records.js';
import { startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';

const python = process.env.OUTPOST_TEST_DAGSTER_PYTHON;
const temporalAddress = process.env.OUTPOST_TEST_TEMPORAL_ADDRESS;
const skip = !python
  ? (process.env.OUTPOST_TEST_DAGSTER_SKIP_REASON ??
    'OUTPOST_TEST_DAGSTER_PYTHON is not set: run through scripts/run-tests.ts, which builds the Dagster venv')
  : !temporalAddress
    ? 'OUTPOST_TEST_TEMPORAL_ADDRESS is not set: run through scripts/run-tests.ts'
    : false;
if (skip) console.log(`# skipping Dagster end-to-end tests: ${skip}`);

const LOC = 'dagster_example';
const EXAMPLE = resolve('examples', 'dagster');

interface Ev {
  seq: number;
  type: string;
  message: string | null;
  stepKey: string | null;
  assetKey: string | null;
}

interface LocationView {
  kind: string;
  dagsterVersion: string;
  jobs: Array<{ name: string; configSchema: Schema; ops: Array<{ name: string }> }>;
  schedules: Array<{ name: string; job: string; cron: string; timezone: string }>;
  sensors: Array<{ name: string; job: string; minIntervalSeconds: number }>;
  partitions: Array<{ name: string; kind: string; keys: string[] | null }>;
  assets: Array<{ key: string; groupName: string | null; deps: string[]; jobNames: string[] }>;
}
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
}
interface Tick {
  runRequests: Array<{ runKey: string | null; job: string; runConfig: unknown; tags: Record<string, string> }>;
  skipReason: string | null;
  cursor: string | null;
  error: string | null;
}

/** The GraphQL error message of a refused request (the request must fail). */
async function refusal(p: Promise<unknown>): Promise<{ message: string; code: unknown }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClientError) {
      const e = err.response.errors?.[0];
      return { message: e?.message ?? '', code: e?.extensions?.code };
    }
    throw err;
  }
  throw new Error('expected the request to be refused');
}

/** True while any process of the group is alive (kill(-pgid, 0) succeeds). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Dagster end to end: control plane + agent + Temporal + real Dagster', { skip }, () => {
  let s: Stack;
  const events = async (id: string): Promise<Ev[]> =>
    (
      await s.gql<{ run: { events: Ev[] } }>(
        `query($id: ID!) { run(id: $id) { events(first: 1000) { seq type message stepKey assetKey } } }`,
        { id },
      )
    ).run.events;
  const launch = async (input: Record<string, unknown>): Promise<string> =>
    (
      await s.gql<{ launchRun: { id: string } }>(`mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }`, {
        i: { location: LOC, ...input },
      })
    ).launchRun.id;
  const runCount = async (): Promise<number> =>
    (await s.gql<{ runs: { nodes: unknown[] } }>(`{ runs(first: 500) { nodes { id } } }`)).runs.nodes.length;
  const gapFree = (evs: Ev[]): void =>
    assert.deepEqual(
      evs.map((e) => e.seq),
      evs.map((_, i) => i + 1),
    );

  before(async () => {
    s = await startStack({
      temporalAddress: temporalAddress!,
      daemon: true,
      storeLimits: { locationQueryWaitMs: 60_000 },
    });
    await s.startAgent();
    const kind = await s.deployDagster(LOC, {
      python: python!,
      pythonFile: 'definitions.py',
      workingDirectory: EXAMPLE,
    });
    assert.equal(kind, 'DAGSTER');
  });
  after(() => s?.close());

  test('the location: kind, version, jobs with config schemas, schedules, sensors, partitions, assets', async () => {
    const { codeLocation: l } = await s.gql<{ codeLocation: LocationView }>(
      `{ codeLocation(name: "${LOC}") { kind dagsterVersion jobs { name configSchema ops { name } }
         schedules { name job cron timezone } sensors { name job minIntervalSeconds }
         partitions { name kind keys } assets { key groupName deps jobNames lastMaterialization { runId } } } }`,
    );
    assert.equal(l.kind, 'DAGSTER');
    assert.match(l.dagsterVersion, /^1\.\d+\.\d+/);
    const greeting = l.jobs.find((j) => j.name === 'greeting_job')!;
    assert.deepEqual(greeting.ops.map((o) => o.name).sort(), ['greet', 'shout']);
    assert.equal(
      greeting.configSchema.properties?.ops?.properties?.greet?.properties?.config?.properties?.name?.type,
      'string',
      JSON.stringify(greeting.configSchema),
    );
    const names = l.jobs.map((j) => j.name);
    for (const j of ['failing_job', 'slow_job', 'numbers_job', 'paint_job', '__ASSET_JOB'])
      assert.ok(names.includes(j), j);
    const sched = l.schedules.find((x) => x.name === 'greeting_job_schedule');
    assert.deepEqual(sched, { name: 'greeting_job_schedule', job: 'greeting_job', cron: '0 2 * * *', timezone: 'UTC' });
    assert.deepEqual(l.sensors, [{ name: 'every_tick', job: 'greeting_job', minIntervalSeconds: 45 }]);
    const paint = l.partitions.find((p) => p.keys?.includes('green'));
    assert.deepEqual(paint?.keys, ['red', 'green', 'blue']);
    assert.ok(l.partitions.length >= 4, JSON.stringify(l.partitions));
    const byKey = new Map(l.assets.map((a) => [a.key, a]));
    assert.deepEqual(byKey.get('doubled_numbers')?.deps, ['raw_numbers']);
    assert.equal(byKey.get('raw_numbers')?.groupName, 'numbers');
    assert.ok(byKey.get('raw_numbers')?.jobNames.includes('numbers_job'));
  });

  test('a run with Dagster config: RUN_SUCCESS, seqs 1..N, the greeting in a LOG event', async () => {
    const id = await launch({
      job: 'greeting_job',
      runConfig: { ops: { greet: { config: { name: 'x' } } } },
      tags: { owner: 'me' },
    });
    const run = await s.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000);
    const evs = await events(id);
    assert.equal(run.status, 'SUCCESS', JSON.stringify(evs.map((e) => [e.type, e.message])));
    // The job's tags (it has no run_tags of its own) go on its runs, under the launch's own.
    const { run: tagged } = await s.gql<{ run: { tags: Record<string, string> } }>(
      `query($id: ID!) { run(id: $id) { tags } }`,
      { id },
    );
    assert.deepEqual(tagged.tags, { team: 'data', owner: 'me' });
    gapFree(evs);
    assert.ok(evs.some((e) => e.type === 'LOG' && /hello x/.test(e.message ?? '')));
    assert.equal(evs.filter((e) => e.type === 'RUN_START').length, 1);
    assert.equal(evs.at(-1)?.type, 'RUN_SUCCESS');
    assert.match(await s.computeLogs(id, 'stdout'), /greet printed x/);
    // Dagster's console echo of its events is not user output.
    assert.doesNotMatch(await s.computeLogs(id, 'stderr'), /hello x/);
  });

  test('invalid config and an unknown job are refused before any run exists', async () => {
    const n = await runCount();
    const bad = await refusal(launch({ job: 'greeting_job', runConfig: { ops: { greet: { config: { name: 7 } } } } }));
    assert.match(bad.message, /greet/, bad.message);
    assert.match(bad.message, /String|string/, bad.message);
    const unknown = await refusal(launch({ job: 'no_such_job' }));
    assert.equal(unknown.code, 'OUTPOST_ERR_UNKNOWN_JOB', unknown.message);
    const asset = await refusal(launch({ assetSelection: ['no_such_asset'] }));
    assert.equal(asset.code, 'OUTPOST_ERR_UNKNOWN_ASSET', asset.message);
    assert.equal(await runCount(), n);
  });

  test('partitioned launches: a daily and a multi-partition key the code server lists run; one outside is refused', async () => {
    // Dagster's time windows (cron + strftime) and multi-partitions list no keys in the
    // snapshot: the agent decides the key from the set's definition.
    const daily = await launch({ job: 'daily_job', partitionKey: '2026-11-02' });
    const multi = await launch({ job: 'multi_job', partitionKey: 'red|2026-11-02' });
    const n = await runCount();
    const outside = await refusal(launch({ job: 'daily_job', partitionKey: '2999-01-01' }));
    assert.equal(outside.code, 'OUTPOST_ERR_UNKNOWN_PARTITION', outside.message);
    assert.match(outside.message, /keys 2026-11-01 to \d{4}-\d\d-\d\d .*nearest: /, "the set's range, not its list");
    const none = await refusal(launch({ job: 'multi_job' }));
    // Described from the snapshot, never listed: a multi set of a color and a daily window.
    assert.match(
      none.message,
      /name a partition key \(multi-partitions, keys joined with "\|": color: keys: red, blue; date: time windows by cron "0 0 \* \* \*"/,
      none.message,
    );
    assert.equal(await runCount(), n);
    for (const [id, key] of [
      [daily, '2026-11-02'],
      [multi, 'red|2026-11-02'],
    ] as const) {
      const run = await s.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000);
      const evs = await events(id);
      assert.equal(run.status, 'SUCCESS', JSON.stringify(evs.map((e) => [e.type, e.message])));
      assert.ok(
        evs.some((e) => e.type === 'LOG' && e.message === `painting ${key}`),
        `painting ${key}`,
      );
    }
  });

  test('a failing op ends the run FAILURE with the error', async () => {
    const id = await launch({ job: 'failing_job' });
    const run = await s.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000);
    assert.equal(run.status, 'FAILURE');
    const evs = await events(id);
    gapFree(evs);
    assert.ok(evs.some((e) => e.type === 'STEP_FAILURE' && e.stepKey === 'fail_on_purpose'));
    assert.equal(evs.at(-1)?.type, 'RUN_FAILURE');
    assert.match(await s.computeLogs(id, 'stdout'), /about to fail on purpose/);
  });

  test('terminateRun mid-step: CANCELED (STEP_CANCELED), nothing left running', async () => {
    const id = await launch({ job: 'slow_job', runConfig: { ops: { sleep_a_while: { config: { seconds: 120 } } } } });
    await until(
      'the slow op logging',
      async () => (await events(id)).some((e) => /still sleeping/.test(e.message ?? '')),
      120_000,
    );
    const rec = readProcessRecord(runDir(join(s.dataDir, 'agent'), id));
    assert.ok(rec, 'the worker was recorded');
    await s.gql(`mutation($id: ID!) { terminateRun(id: $id) { status } }`, { id });
    const run = await s.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 60_000);
    const evs = await events(id);
    assert.equal(run.status, 'CANCELED', JSON.stringify(evs.map((e) => [e.type, e.message])));
    gapFree(evs);
    assert.ok(
      evs.some((e) => e.type === 'STEP_CANCELED'),
      JSON.stringify(evs.map((e) => e.type)),
    );
    await until('the run process group gone', () => !groupAlive(rec.pgid), 15_000);
  });

  test('terminateRun right after launchRun (before the worker started): CANCELED', async () => {
    const id = await launch({ job: 'slow_job', runConfig: { ops: { sleep_a_while: { config: { seconds: 120 } } } } });
    await s.gql(`mutation($id: ID!) { terminateRun(id: $id) { status } }`, { id });
    const run = await s.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 60_000).catch(async (err: Error) => {
      const r = await s.run(id);
      throw new Error(`${err.message}: ${r.status}; ${JSON.stringify(r.events.map((e) => [e.type, e.message]))}`);
    });
    assert.equal(run.status, 'CANCELED');
    gapFree(await events(id));
  });

  test('materialize all (job omitted), then only the downstream asset reading the upstream', async () => {
    const all = await launch({ assetSelection: ['raw_numbers', 'doubled_numbers'] });
    const r1 = await s.waitRun(all, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000);
    const e1 = await events(all);
    assert.equal(r1.status, 'SUCCESS', JSON.stringify(e1.map((e) => [e.type, e.message])));
    gapFree(e1);
    assert.deepEqual(
      e1
        .filter((e) => e.type === 'ASSET_MATERIALIZATION')
        .map((e) => e.assetKey)
        .sort(),
      ['doubled_numbers', 'raw_numbers'],
    );
    const { codeLocation } = await s.gql<{
      codeLocation: { assets: Array<{ key: string; lastMaterialization: { runId: string } | null }> };
    }>(`{ codeLocation(name: "${LOC}") { assets { key lastMaterialization { runId } } } }`);
    for (const a of codeLocation.assets) assert.equal(a.lastMaterialization?.runId, all, a.key);

    const down = await launch({ assetSelection: ['doubled_numbers'] });
    const r2 = await s.waitRun(down, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000);
    const e2 = await events(down);
    assert.equal(r2.status, 'SUCCESS', JSON.stringify(e2.map((e) => [e.type, e.message])));
    assert.deepEqual(
      e2.filter((e) => e.type === 'ASSET_MATERIALIZATION').map((e) => e.assetKey),
      ['doubled_numbers'],
    );
    assert.ok(!e2.some((e) => e.stepKey === 'raw_numbers'), 'the upstream was not recomputed');
  });

  test('op selection: the selected op runs and no other; what Dagster or Outpost refuses writes nothing', async () => {
    const id = await launch({
      job: 'greeting_job',
      opSelection: ['greet'],
      runConfig: { ops: { greet: { config: { name: 'subset' } } } },
    });
    const done = await s.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000);
    const evs = await events(id);
    assert.equal(done.status, 'SUCCESS', JSON.stringify(evs.map((e) => [e.type, e.message])));
    gapFree(evs);
    assert.deepEqual(
      evs.filter((e) => e.type === 'STEP_START').map((e) => e.stepKey),
      ['greet'],
      'shout, downstream of greet, did not run',
    );
    assert.ok(evs.some((e) => /hello subset/.test(e.message ?? '')));
    const { run } = await s.gql<{ run: { opSelection: string[] | null; assetSelection: string[] | null } }>(
      `query($id: ID!) { run(id: $id) { opSelection assetSelection } }`,
      { id },
    );
    assert.deepEqual(run, { opSelection: ['greet'], assetSelection: null });

    const n = await runCount();
    // Dagster plans the subset: an op whose input came from an op left out is refused in its words.
    const orphan = await refusal(launch({ job: 'greeting_job', opSelection: ['shout'] }));
    assert.equal(orphan.code, 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION', orphan.message);
    assert.match(orphan.message, /who|inputs/);
    const unknown = await refusal(launch({ job: 'greeting_job', opSelection: ['nope'] }));
    assert.equal(unknown.code, 'OUTPOST_ERR_INVALID_ARGUMENT');
    assert.match(unknown.message, /"nope" is not an op of greeting_job \(ops: greet, shout\)/);
    const query = await refusal(launch({ job: 'greeting_job', opSelection: ['greet*'] }));
    assert.match(query.message, /"greet\*": Dagster's selection syntax/);
    const both = await refusal(
      launch({ job: 'numbers_job', opSelection: ['raw_numbers'], assetSelection: ['raw_numbers'] }),
    );
    assert.match(both.message, /cannot be combined/);
    assert.equal(await runCount(), n, 'no run written for a refused launch');
  });

  test('testSchedule returns run requests; testSensor advances its cursor', async () => {
    const sched = await s.gql<{ testSchedule: Tick }>(
      `mutation { testSchedule(input: { location: "${LOC}", name: "greeting_job_schedule", tickTime: ${Date.UTC(2026, 10, 29, 2)} }) { runRequests { job runConfig tags runKey } skipReason error } }`,
    );
    assert.equal(sched.testSchedule.error, null);
    assert.equal(sched.testSchedule.runRequests.length, 1);
    assert.equal(sched.testSchedule.runRequests[0]?.job, 'greeting_job');
    const sensor = async (cursor: string | null): Promise<Tick> =>
      (
        await s.gql<{ testSensor: Tick }>(
          `mutation($c: String) { testSensor(input: { location: "${LOC}", name: "every_tick", cursor: $c }) { runRequests { runKey job runConfig } skipReason cursor error } }`,
          { c: cursor },
        )
      ).testSensor;
    const first = await sensor(null);
    assert.equal(first.cursor, '1');
    assert.equal(first.runRequests[0]?.runKey, 'tick-1');
    const next = await sensor(first.cursor);
    assert.equal(next.cursor, '2');
    assert.deepEqual(next.runRequests[0]?.runConfig, { ops: { greet: { config: { name: 'tick 2' } } } });
    const skipped = await sensor('abc');
    assert.equal(skipped.runRequests.length, 0);
    assert.match(skipped.skipReason ?? '', /nothing new since abc/);
  });

  test('the sensor ticks through the daemon: a run with its dagster/run_key tag', async () => {
    const n = await runCount();
    await s.gql(`mutation { setSensorState(location: "${LOC}", name: "every_tick", state: RUNNING) { state } }`);
    try {
      const run = await until(
        'a sensor run',
        async () => {
          const r = await s.gql<{ runs: { nodes: Array<{ id: string; tags: Record<string, string> }> } }>(
            `{ runs(first: 500) { nodes { id tags } } }`,
          );
          return r.runs.nodes.length > n ? r.runs.nodes.find((x) => x.tags['dagster/run_key']) : undefined;
        },
        90_000,
        500,
      );
      assert.equal(run.tags['dagster/run_key'], 'tick-1');
      assert.equal(run.tags['dagster/sensor_name'], 'every_tick');
      assert.equal(run.tags.team, 'data', "the job's run tags, as Dagster's sensor daemon puts them");
      const done = await s.waitRun(run.id, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000);
      assert.equal(done.status, 'SUCCESS');
      assert.ok((await events(run.id)).some((e) => /hello tick 1/.test(e.message ?? '')));
      // The cursor was stored: one tick per 45 s interval, so by now 1 (or 2 if a boundary passed),
      // and each tick's run key names one run only.
      const cursorNow = async (): Promise<number> => {
        const { codeLocation } = await s.gql<{ codeLocation: { sensors: Array<{ cursor: string | null }> } }>(
          `{ codeLocation(name: "${LOC}") { sensors { cursor } } }`,
        );
        return Number(codeLocation.sensors[0]?.cursor);
      };
      // A tick's run and cursor may land a moment apart: wait (bounded) for a read in which
      // they agree, then assert on the last read (a lasting mismatch still fails).
      const expected = (n: number): string[] => Array.from({ length: n }, (_, i) => `tick-${i + 1}`).sort();
      let last = { cursor: 0, keys: [] as string[] };
      await until(
        'the cursor and the runs read together',
        async () => {
          const cursorBefore = await cursorNow();
          const runKeys = (
            await s.gql<{ runs: { nodes: Array<{ tags: Record<string, string> }> } }>(
              `{ runs(first: 500) { nodes { tags } } }`,
            )
          ).runs.nodes
            .map((r) => r.tags['dagster/run_key'])
            .filter((k): k is string => Boolean(k))
            .sort();
          last = { cursor: cursorBefore, keys: runKeys };
          return cursorBefore === (await cursorNow()) && isDeepStrictEqual(runKeys, expected(cursorBefore));
        },
        30_000,
        100,
      ).catch(() => undefined);
      const { cursor, keys } = last;
      assert.ok(cursor >= 1, `cursor ${cursor}`);
      assert.deepEqual(keys, expected(cursor));
    } finally {
      await s.gql(`mutation { setSensorState(location: "${LOC}", name: "every_tick", state: STOPPED) { state } }`);
      // A later tick's run may still be going: run workers outlive the agent by design, so
      // let them finish before the stack's directory is removed.
      await until(
        'every run finished',
        async () =>
          (
            await s.gql<{ runs: { nodes: unknown[] } }>(
              `{ runs(first: 500, filter: { status: [QUEUED, STARTING, STARTED, CANCELING] }) { nodes { id } } }`,
            )
          ).runs.nodes.length === 0,
        120_000,
        500,
      );
    }
  });

  test("a sensor's asset selection: its run materializes those assets alone; an unknown asset fails the tick", async () => {
    const FRUIT = 'dagster_fruit';
    await s.deployDagster(FRUIT, {
      python: python!,
      pythonFile: 'asset_sensors.py',
      workingDirectory: resolve('test/fixtures/dagster/locations'),
    });
    const tested = await s.gql<{ testSensor: { runRequests: unknown[]; error: string | null } }>(
      `mutation { testSensor(input: { location: "${FRUIT}", name: "only_plums" }) { runRequests { job assetSelection } error } }`,
    );
    assert.deepEqual(tested.testSensor, {
      runRequests: [{ job: 'fruit_job', assetSelection: ['plums'] }],
      error: null,
    });
    const setSensors = (state: string) =>
      Promise.all(
        ['only_plums', 'unknown_fruit', 'pears_and_plums'].map((name) =>
          s.gql(`mutation { setSensorState(location: "${FRUIT}", name: "${name}", state: ${state}) { state } }`),
        ),
      );
    /** The one run the sensor requested (each asks with a run key). */
    const sensorRun = (name: string) =>
      until(
        `the ${name} run`,
        async () =>
          (
            await s.gql<{ runs: { nodes: Array<{ id: string; job: string; tags: Record<string, string> }> } }>(
              `{ runs(first: 500) { nodes { id job tags } } }`,
            )
          ).runs.nodes.find((r) => r.tags['dagster/sensor_name'] === name),
        90_000,
        500,
      );
    await setSensors('RUNNING');
    try {
      const run = await sensorRun('only_plums');
      assert.equal(run.job, 'fruit_job');
      const done = await s.waitRun(run.id, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000);
      const evs = await events(run.id);
      assert.equal(done.status, 'SUCCESS', JSON.stringify(evs.map((e) => [e.type, e.message])));
      assert.deepEqual(
        evs.filter((e) => e.type === 'ASSET_MATERIALIZATION').map((e) => e.assetKey),
        ['plums'],
        'only the requested asset, not the whole job',
      );
      assert.ok(!evs.some((e) => e.stepKey === 'apples' || e.stepKey === 'pears'), 'no other step ran');
      // A sensor that targets assets: each of its runs is the sensor's selection, on the asset job.
      const targeted = await sensorRun('pears_and_plums');
      assert.match(targeted.job, /^__ASSET_JOB/);
      const tDone = await s.waitRun(targeted.id, ['SUCCESS', 'FAILURE', 'CANCELED'], 120_000);
      const tEvs = await events(targeted.id);
      assert.equal(tDone.status, 'SUCCESS', JSON.stringify(tEvs.map((e) => [e.type, e.message])));
      assert.deepEqual(
        tEvs
          .filter((e) => e.type === 'ASSET_MATERIALIZATION')
          .map((e) => e.assetKey)
          .sort(),
        ['pears', 'plums'],
        'not apples: the sensor targets pears and plums',
      );
      const { run: shown } = await s.gql<{ run: { assetSelection: string[] | null } }>(
        `query($id: ID!) { run(id: $id) { assetSelection } }`,
        { id: targeted.id },
      );
      assert.deepEqual([...(shown.assetSelection ?? [])].sort(), ['pears', 'plums']);
      const failed = await until(
        'the unknown_fruit tick failed',
        async () => {
          const { codeLocation } = await s.gql<{
            codeLocation: { sensors: Array<{ name: string; ticks: Array<{ status: string; error: string | null }> }> };
          }>(`{ codeLocation(name: "${FRUIT}") { sensors { name ticks(first: 5) { status error } } } }`);
          return codeLocation.sensors
            .find((x) => x.name === 'unknown_fruit')
            ?.ticks.find((t) => t.status === 'FAILURE');
        },
        90_000,
        500,
      );
      assert.match(failed.error ?? '', /OUTPOST_ERR_UNKNOWN_ASSET.*runRequests\[0\]: "figs" is not in dagster_fruit/);
    } finally {
      await setSensors('STOPPED');
    }
  });
});
