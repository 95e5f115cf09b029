// Dagster repository snapshots recorded from real 1.9, 1.11 and 1.13 servers, mapped to Outpost's
// LocationSnapshot; the converted config schema is checked with the run worker's own validator.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readListRepositories, readRepositoryData } from '../../../../src/agent/dagster/serdes-readers.js';
import { mapDagsterSnapshot } from '../../../../src/agent/dagster/snapshot-mapper.js';
import { LocationSnapshotSchema, type LocationSnapshot } from '../../../../src/shared/location-snapshot.js';
import { toConfigSchema } from '../../../../src/user-code/sdk/config-schema.js';
import { MINORS, recorded, repositoryAndJobs, type Minor } from './dagster-fixtures.js';

function snapshotOf(minor: Minor): LocationSnapshot {
  const list = readListRepositories(recorded(minor, 'list-repositories').reply);
  assert.ok(list.ok);
  return mapDagsterSnapshot({ dagsterVersion: list.value.dagsterVersion, ...repositoryAndJobs(minor) });
}

for (const minor of MINORS) {
  describe(`Dagster ${minor} snapshot → LocationSnapshot`, () => {
    const snap = snapshotOf(minor);

    test('is a valid LocationSnapshot that the control plane stores unchanged', () => {
      assert.deepEqual(LocationSnapshotSchema.parse(snap), snap);
      assert.equal(snap.kind, 'dagster');
      assert.ok(snap.dagsterVersion?.startsWith(`${minor}.`));
      assert.equal(snap.repositoryName, '__repository__');
    });

    test('jobs: description, tags, ops with their dependencies, snapshot ids', () => {
      assert.deepEqual(
        snap.jobs.map((j) => j.name),
        [
          '__ASSET_JOB',
          'customer_job',
          'daily_job',
          'failing_job',
          'greeting_job',
          'multi_job',
          'numbers_job',
          'paint_job',
          'slow_job',
        ],
      );
      const g = snap.jobs.find((j) => j.name === 'greeting_job')!;
      assert.equal(g.description, 'Two ops in a line');
      assert.deepEqual(g.tags, { team: 'data' });
      // No run_tags of its own: Dagster puts the job's tags on every run of it.
      assert.deepEqual(g.runTags, { team: 'data' });
      assert.deepEqual(snap.jobs.find((j) => j.name === 'numbers_job')?.runTags, {});
      assert.match(g.snapshotId ?? '', /^[0-9a-f]{40}$/);
      assert.deepEqual(g.ops, [
        {
          name: 'greet',
          description: 'Says hello to the configured name.',
          inputs: [],
          outputs: ['result'],
          tags: { kind: 'greeting' },
        },
        {
          name: 'shout',
          description: '',
          inputs: [{ name: 'who', fromOp: 'greet', fromOutput: 'result' }],
          outputs: ['result'],
          tags: {},
        },
      ]);
      const assetJob = snap.jobs.find((j) => j.name === 'numbers_job')!;
      assert.deepEqual(
        assetJob.ops.find((o) => o.name === 'doubled_numbers')?.inputs.map((i) => i.fromOp),
        ['raw_numbers'],
      );
    });

    test('configSchema accepts what Dagster accepts and refuses what it refuses', async () => {
      const g = snap.jobs.find((j) => j.name === 'greeting_job')!;
      const schema = toConfigSchema(g.configSchema, 'greeting_job');
      const check = (v: unknown) => schema.check(v);
      assert.equal((await check({ ops: { greet: { config: { name: 'world' } } } })).ok, true);
      assert.equal((await check({})).ok, true, 'every field has a default');
      const full = {
        ops: {
          shout: {
            config: {
              times: 2,
              style: 'QUIET',
              suffixes: ['!'],
              limit: null,
              extra: { anything: [1] },
              source: { env: 'WHO' },
              weights: { a: 0.5 },
            },
          },
        },
      };
      assert.equal((await check(full)).ok, true);
      for (const [why, bad] of [
        ['unknown field (STRICT_SHAPE)', { ops: { greet: { config: { nam: 'typo' } } } }],
        ['not in the ENUM', { ops: { shout: { config: { style: 'SHOUTY' } } } }],
        ['two SELECTOR branches', { ops: { shout: { config: { source: { env: 'A', literal: 'B' } } } } }],
        ['ARRAY of strings', { ops: { shout: { config: { suffixes: [1] } } } }],
        ['MAP of floats', { ops: { shout: { config: { weights: { a: 'x' } } } } }],
        ['Int scalar', { ops: { shout: { config: { times: 1.5 } } } }],
      ] as const) {
        assert.equal((await check(bad)).ok, false, why);
      }
      const shoutCfg = (
        g.configSchema as {
          properties: {
            ops: { properties: { shout: { properties: { config: { properties: Record<string, unknown> } } } } };
          };
        }
      ).properties.ops.properties.shout.properties.config.properties;
      assert.deepEqual(shoutCfg.limit, { anyOf: [{ type: 'integer' }, { type: 'null' }] }, 'NONEABLE');
    });

    test("schedules under Dagster's names, sensors with their interval", () => {
      assert.deepEqual(
        snap.schedules.map((s) => [s.name, s.job, s.cron, s.timezone]),
        [
          ['daily_job_schedule', 'daily_job', '0 0 * * *', 'UTC'],
          ['greeting_job_schedule', 'greeting_job', '0 2 * * *', 'UTC'],
        ],
      );
      assert.deepEqual(
        snap.sensors.map((s) => [s.name, s.job, s.minIntervalSeconds, s.description]),
        [['every_tick', 'greeting_job', 45, 'One run per tick, cursor counts.']],
      );
    });

    test('partitions: static, time window, dynamic and multi, named per job', () => {
      const byName = Object.fromEntries(snap.partitions.map((p) => [p.name, p]));
      assert.deepEqual(byName.paint_job_partition_set, {
        name: 'paint_job_partition_set',
        kind: 'static',
        keys: ['red', 'green', 'blue'],
      });
      assert.deepEqual(byName.daily_job_partition_set, {
        name: 'daily_job_partition_set',
        kind: 'timeWindow',
        start: '2026-11-01T00:00:00.000Z',
        cron: '0 0 * * *',
        timezone: 'UTC',
        format: '%Y-%m-%d',
      });
      assert.equal(byName.customer_job_partition_set?.kind, 'dynamic');
      assert.deepEqual(byName.multi_job_partition_set?.dimensions, [
        { name: 'color', kind: 'static', keys: ['red', 'blue'] },
        {
          name: 'date',
          kind: 'timeWindow',
          start: '2026-11-01T00:00:00.000Z',
          cron: '0 0 * * *',
          timezone: 'UTC',
          format: '%Y-%m-%d',
        },
      ]);
      assert.equal(snap.jobs.find((j) => j.name === 'paint_job')?.partitions, 'paint_job_partition_set');
    });

    test('assets: key, group, description, deps, jobs', () => {
      assert.deepEqual(snap.assets, [
        {
          key: 'doubled_numbers',
          groupName: 'numbers',
          description: 'The raw numbers doubled.',
          deps: ['raw_numbers'],
          jobNames: ['__ASSET_JOB', 'numbers_job'],
        },
        {
          key: 'raw_numbers',
          groupName: 'numbers',
          description: 'A few raw numbers.',
          deps: [],
          jobNames: ['__ASSET_JOB', 'numbers_job'],
        },
      ]);
    });
  });
}

test('the same code maps to the same snapshot on every minor (only versions and snapshot ids differ)', () => {
  const strip = (s: LocationSnapshot) => ({
    ...s,
    dagsterVersion: undefined,
    jobs: s.jobs.map((j) => ({ ...j, snapshotId: undefined, configSchema: undefined })),
  });
  const [a, b, c] = MINORS.map((m) => strip(snapshotOf(m)));
  assert.deepEqual(a, c);
  assert.deepEqual(b, c);
});

describe('a partitions kind this Outpost does not know', () => {
  test('is "other" named by its Dagster class, in a set and as a dimension, not "dynamic"', () => {
    const { repository, jobs } = repositoryAndJobs('1.13');
    const future = { __class__: 'ExternalFuturePartitionsDefinitionData' };
    const sets = repository.external_partition_set_datas.map((p) =>
      p.name === 'paint_job_partition_set'
        ? { ...p, external_partitions_data: future }
        : p.name === 'multi_job_partition_set'
          ? {
              ...p,
              external_partitions_data: {
                __class__: 'ExternalMultiPartitionsDefinitionData',
                external_partition_dimension_definitions: [{ name: 'f', external_partitions_def_data: future }],
              },
            }
          : p,
    );
    const snap = mapDagsterSnapshot({
      dagsterVersion: '1.13.29',
      repository: { ...repository, external_partition_set_datas: sets },
      jobs,
    });
    assert.deepEqual(LocationSnapshotSchema.parse(snap), snap);
    const byName = Object.fromEntries(snap.partitions.map((p) => [p.name, p]));
    assert.deepEqual(byName.paint_job_partition_set, {
      name: 'paint_job_partition_set',
      kind: 'other',
      dagsterClass: 'ExternalFuturePartitionsDefinitionData',
    });
    assert.deepEqual(byName.multi_job_partition_set?.dimensions, [
      { name: 'f', kind: 'other', dagsterClass: 'ExternalFuturePartitionsDefinitionData' },
    ]);
  });
});

test("asset checks: listed on their asset, from the repository reply's ExternalAssetCheck entries", () => {
  // The recorded 1.13 reply with two checks on raw_numbers, written as a real 1.13 server wrote
  // them for an @asset_check location (fields trimmed to the ones that vary).
  const raw = JSON.parse(recorded('1.13', 'external-repository').reply) as Record<string, unknown>;
  const check = (name: string, description: string | null, blocking: boolean) => ({
    __class__: 'ExternalAssetCheck',
    additional_asset_keys: [],
    asset_key: { __class__: 'AssetKey', path: ['raw_numbers'] },
    atomic_execution_unit_id: 'e6cb8e8b',
    automation_condition: null,
    automation_condition_snapshot: null,
    blocking,
    description,
    job_names: ['__ASSET_JOB'],
    name,
    partitions_def_snapshot: null,
  });
  raw.external_asset_checks = [check('no_negatives', 'no negative numbers', false), check('not_empty', null, true)];
  const { jobs } = repositoryAndJobs('1.13');
  const snap = mapDagsterSnapshot({
    dagsterVersion: '1.13.29',
    repository: readRepositoryData(JSON.stringify(raw)),
    jobs,
  });
  assert.deepEqual(LocationSnapshotSchema.parse(snap), snap);
  const byKey = Object.fromEntries((snap.assets ?? []).map((a) => [a.key, a]));
  assert.deepEqual(byKey.raw_numbers?.checks, [
    { name: 'no_negatives', description: 'no negative numbers', blocking: false },
    { name: 'not_empty', description: '', blocking: true },
  ]);
  assert.equal(byKey.doubled_numbers?.checks, undefined, 'an asset without checks has none listed');
});

test('declarative automation and freshness policies are named on their asset, the automation sensor says why it cannot run', () => {
  // Fields as real servers wrote them (1.13.29 for eager() and a time-window policy, 1.9.13 for
  // on_cron and the legacy policy), on the recorded 1.13 reply's two assets.
  const raw = JSON.parse(recorded('1.13', 'external-repository').reply) as {
    external_asset_graph_data: Array<Record<string, unknown> & { asset_key: { path: string[] } }>;
    external_sensor_datas: Array<Record<string, unknown>>;
  };
  const [doubled, rawNumbers] = raw.external_asset_graph_data;
  assert.equal(doubled!.asset_key.path[0], 'doubled_numbers');
  doubled!.auto_materialize_policy = {
    __class__: 'AutoMaterializePolicy',
    asset_condition: { __class__: 'AndAssetCondition', label: 'eager', operands: [] },
    max_materializations_per_minute: null,
    rules: { __frozenset__: [] },
    time_window_partition_scope_minutes: 1e-6,
  };
  doubled!.new_freshness_policy = {
    __class__: 'TimeWindowFreshnessPolicy',
    fail_window: { __class__: 'SerializableTimeDelta', days: 0, microseconds: 0, seconds: 3600 },
    warn_window: { __class__: 'SerializableTimeDelta', days: 0, microseconds: 0, seconds: 1800 },
  };
  rawNumbers!.auto_materialize_policy = {
    __class__: 'AutoMaterializePolicy',
    asset_condition: { __class__: 'AndAssetCondition', label: null, operands: [] },
  };
  rawNumbers!.freshness_policy = {
    __class__: 'FreshnessPolicy',
    cron_schedule: null,
    cron_schedule_timezone: null,
    maximum_lag_minutes: 60.0,
  };
  raw.external_sensor_datas.push({
    __class__: 'ExternalSensorData',
    asset_selection: { __class__: 'AllSelection', include_sources: false },
    description: null,
    min_interval: 30,
    name: 'default_automation_condition_sensor',
    pipeline_name: null,
    sensor_type: { __enum__: 'SensorType.AUTO_MATERIALIZE' },
    target_dict: {},
  });
  const snap = mapDagsterSnapshot({
    dagsterVersion: '1.13.29',
    repository: readRepositoryData(JSON.stringify(raw)),
    jobs: repositoryAndJobs('1.13').jobs,
  });
  assert.deepEqual(LocationSnapshotSchema.parse(snap), snap);
  const byKey = Object.fromEntries((snap.assets ?? []).map((a) => [a.key, a]));
  assert.equal(byKey.doubled_numbers?.automationCondition, 'eager');
  assert.equal(byKey.doubled_numbers?.freshnessPolicy, 'fails when older than 1h, warns after 30m');
  assert.equal(byKey.raw_numbers?.automationCondition, 'a custom AutomationCondition');
  assert.equal(byKey.raw_numbers?.freshnessPolicy, 'at most 60 min old');
  const sensors = Object.fromEntries(snap.sensors.map((s) => [s.name, s]));
  assert.match(sensors.default_automation_condition_sensor?.unsupported ?? '', /declarative automation/);
  assert.equal(sensors.every_tick?.unsupported, undefined, 'a standard sensor runs');
});
