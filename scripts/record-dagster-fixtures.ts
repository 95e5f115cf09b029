// Records the replies of a real Dagster code server serving examples/dagster/ into
// test/fixtures/dagster/<minor>/, one JSON file per call: {rpc, dagsterVersion, request, reply}
// with request and reply kept as the exact serdes strings from the wire (machine paths replaced
// by /repo and /venv). Builds the venv first when needed.
//   tsx scripts/record-dagster-fixtures.ts [1.13|1.11|1.9]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDagsterServer } from '../test/support/dagster-server.js';
import * as serdes from '../src/agent/dagster/serdes.js';
import { readListRepositories, readRepositoryData } from '../src/agent/dagster/serdes-readers.js';
import { DAGSTER_PINS, ensureDagsterVenv, type DagsterMinor } from './dagster-venv.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const EXAMPLE_DIR = join(REPO, 'examples', 'dagster');
export const EXAMPLE_LOCATION = 'outpost_example';
/** A fixed tick: 2026-12-29T02:00:00Z. */
export const SCHEDULE_TICK_MS = Date.UTC(2026, 11, 29, 2, 0, 0);

async function main(): Promise<void> {
  const minor = (process.argv[2] ?? '1.13') as DagsterMinor;
  if (!(minor in DAGSTER_PINS)) throw new Error(`unknown minor ${minor}: use ${Object.keys(DAGSTER_PINS).join(', ')}`);
  const venv = await ensureDagsterVenv(minor);
  const out = join(REPO, 'test', 'fixtures', 'dagster', minor);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const server = await startDagsterServer({
    python: venv.python,
    pointer: { pythonFile: 'definitions.py' },
    workingDirectory: EXAMPLE_DIR,
    locationName: EXAMPLE_LOCATION,
  });
  const scrub = (s: string): string => s.split(venv.dir).join('/venv').split(REPO).join('/repo');
  const write = (name: string, rpc: string, request: string, reply: string, extra: object = {}): void => {
    const body = { rpc, dagsterVersion: venv.version, request: scrub(request), reply: scrub(reply), ...extra };
    writeFileSync(join(out, `${name}.json`), JSON.stringify(body, null, 2) + '\n');
    console.log(`recorded ${minor}/${name}.json (${reply.length} bytes)`);
  };
  try {
    const c = server.client;
    write('ping', 'Ping', 'outpost', await c.ping('outpost'));
    const listRaw = await c.listRepositories();
    write('list-repositories', 'ListRepositories', '', listRaw);
    const list = readListRepositories(listRaw);
    if (!list.ok) throw new Error(`load error: ${list.error.message}`);
    const origin = {
      socket: server.socketPath,
      locationName: EXAMPLE_LOCATION,
      repositoryName: list.value.repositories[0]!.name,
    };
    const originJson = serdes.serialize(serdes.repositoryOrigin(origin));
    const repoRaw = await c.externalRepository(originJson, true);
    write('external-repository', 'ExternalRepository', originJson, repoRaw);
    const repo = readRepositoryData(repoRaw);
    for (const job of repo.jobRefs) {
      const r = await c.externalJob(originJson, job.name);
      write(`external-job.${job.name}`, 'ExternalJob', job.name, r.jobData, { error: scrub(r.error) });
    }
    const greeting = repo.jobRefs.find((j) => j.name === 'greeting_job')!;
    const plan = (runConfig: unknown): string =>
      serdes.executionPlanSnapshotArgs({ origin, jobName: 'greeting_job', snapshotId: greeting.snapshotId, runConfig });
    const okPlan = plan({ ops: { greet: { config: { name: 'world' } } } });
    write('execution-plan.valid', 'ExecutionPlanSnapshot', okPlan, await c.executionPlanSnapshot(okPlan));
    const badPlan = plan({ ops: { greet: { config: { nam: 'typo' } } } });
    write('execution-plan.invalid-config', 'ExecutionPlanSnapshot', badPlan, await c.executionPlanSnapshot(badPlan));
    const paint = { origin, jobName: 'paint_job', partitionSetName: 'paint_job_partition_set' };
    const names = serdes.partitionNamesArgs(paint);
    write('partition-names.paint_job', 'ExternalPartitionNames', names, await c.partitionNames(names));
    const noParts = serdes.partitionNamesArgs({ ...paint, jobName: 'greeting_job' });
    write('partition-names.no-partitions', 'ExternalPartitionNames', noParts, await c.partitionNames(noParts));
    const green = serdes.partitionArgs({ ...paint, partitionName: 'green' });
    write('partition-config.green', 'ExternalPartitionConfig', green, await c.partitionConfig(green));
    write('partition-tags.green', 'ExternalPartitionTags', green, await c.partitionTags(green));
    for (const scheduleName of ['greeting_job_schedule', 'daily_job_schedule']) {
      const args = serdes.scheduleExecutionArgs({ origin, scheduleName, tickMs: SCHEDULE_TICK_MS });
      write(`schedule.${scheduleName}`, 'SyncExternalScheduleExecution', args, await c.scheduleExecution(args));
    }
    for (const [label, cursor] of [
      ['first-tick', null],
      ['cursor-41', '41'],
      ['cursor-abc', 'abc'],
    ] as const) {
      const args = serdes.sensorExecutionArgs({ origin, sensorName: 'every_tick', cursor });
      write(`sensor.${label}`, 'SyncExternalSensorExecution', args, await c.sensorExecution(args));
    }
    const unknownClass = '{"__class__": "Nope"}';
    write('sensor.unknown-class', 'SyncExternalSensorExecution', unknownClass, await c.sensorExecution(unknownClass));
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
