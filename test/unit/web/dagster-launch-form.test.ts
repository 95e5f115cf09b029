// The launch form's schema checker and starting config on Dagster jobs: the config schemas the
// agent converts from the snapshots recorded from real 1.9, 1.11 and 1.13 code servers, and the
// run configs Dagster accepted and refused when the execution plans were recorded.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readListRepositories } from '../../../src/agent/dagster/serdes-readers.js';
import { mapDagsterSnapshot } from '../../../src/agent/dagster/snapshot-mapper.js';
// @ts-expect-error plain browser ES module without types
import { exampleFor, requiredExampleFor, validate } from '../../../src/control-plane/web/assets/lib/json-schema.js';
import { MINORS, recorded, repositoryAndJobs } from '../agent/dagster/dagster-fixtures.js';

type Problem = { path: string; message: string };
const check = validate as (schema: unknown, value: unknown) => Problem[];
const required = requiredExampleFor as (schema: unknown) => unknown;
const example = exampleFor as (schema: unknown) => unknown;

for (const minor of MINORS) {
  describe(`launch form on Dagster ${minor} jobs`, () => {
    const list = readListRepositories(recorded(minor, 'list-repositories').reply);
    assert.ok(list.ok);
    const snap = mapDagsterSnapshot({ dagsterVersion: list.value.dagsterVersion, ...repositoryAndJobs(minor) });
    const schemaOf = (job: string) => snap.jobs.find((j) => j.name === job)!.configSchema;
    const runConfigOf = (name: string) =>
      (JSON.parse(recorded(minor, name).request) as { run_config: unknown }).run_config;

    test('the starting config holds the required fields only, and the checker accepts it', () => {
      for (const job of snap.jobs) {
        const start = required(job.configSchema);
        assert.deepEqual(check(job.configSchema, start), [], `${job.name}: ${JSON.stringify(start)}`);
      }
      // greeting_job requires nothing: Dagster applies `name`'s default itself.
      assert.deepEqual(required(schemaOf('greeting_job')), {});
      // The full example would spell out every system default (executor, resources, loggers).
      assert.ok(Object.keys(example(schemaOf('greeting_job')) as object).includes('execution'));
    });

    test('the config Dagster accepted passes; the typo Dagster refused is flagged at its path', () => {
      const schema = schemaOf('greeting_job');
      assert.deepEqual(check(schema, runConfigOf('execution-plan.valid')), []);
      assert.deepEqual(check(schema, runConfigOf('execution-plan.invalid-config')), [
        { path: 'ops.greet.config', message: 'unknown property "nam"' },
      ]);
      assert.deepEqual(
        check(schema, { ops: { greet: { config: { name: 5 } } } }).map((p) => p.path),
        ['ops.greet.config.name'],
      );
    });
  });
}
