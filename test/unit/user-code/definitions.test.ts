// The SDK builders reject mistakes at definition time, with the name of what is wrong.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z as z3 } from 'zod';
import { z } from 'zod/v4';
import { isOutpostError } from '../../../src/shared/errors.js';
import { configJsonSchema } from '../../../src/user-code/code-server/config-json-schema.js';
import { defineLocation, job, op, schedule, sensor, staticPartitions } from 'outpost/sdk';

const invalid = (pattern: RegExp) => (err: unknown) =>
  isOutpostError(err, 'INVALID_ARGUMENT') && pattern.test(err.message);
const a = op({ name: 'a' }, () => 1);

describe('definitions', () => {
  test('names must be identifiers', () => {
    assert.throws(() => op({ name: 'has space' }, () => 1), invalid(/op name "has space"/));
    assert.throws(() => job({ name: '', ops: [] }), invalid(/job name ""/));
  });

  test('a job must list every upstream op and name ops uniquely', () => {
    const b = op({ name: 'b', ins: { x: a } }, (_c, { x }) => x);
    assert.throws(() => job({ name: 'j', ops: [b] }), invalid(/op b input "x" reads op a, which is not in ops/));
    assert.throws(() => job({ name: 'j', ops: [a, op({ name: 'a' }, () => 2)] }), invalid(/two ops are named "a"/));
  });

  test('config: zod/v4 becomes JSON Schema of the input; a single op config becomes the job config', async () => {
    const nap = op({ name: 'nap', config: z.object({ seconds: z.number().default(1) }) }, (ctx) => ctx.config.seconds);
    const j = job({ name: 'sleepy', ops: [nap] });
    assert.equal(j.config, nap.config);
    assert.deepEqual(configJsonSchema(j.config).properties, {
      seconds: { type: 'number', default: 1 },
    });
    assert.deepEqual(await j.config?.check({}), { ok: true, value: { seconds: 1 } });
    const bad = await j.config?.check({ seconds: 'x' });
    assert.equal(bad?.ok, false);
  });

  test('config: zod v3 schemas are refused with a pointer to zod/v4', () => {
    assert.throws(
      () => job({ name: 'j', ops: [a], config: z3.object({}) as never }),
      invalid(/zod v3 schema; import \{ z \} from 'zod\/v4'/),
    );
  });

  test('config: JSON Schema is validated with ajv, defaults filled in', async () => {
    const j = job({
      name: 'j',
      ops: [a],
      config: { type: 'object', properties: { n: { type: 'integer', default: 2 } }, required: [] },
    });
    assert.deepEqual(await j.config?.check({}), { ok: true, value: { n: 2 } });
    const bad = await j.config?.check({ n: 'x' });
    assert.deepEqual(bad, { ok: false, issues: ['n: must be integer'] });
  });

  test('schedules and sensors must target a job of the location; defaults are filled in', () => {
    const j = job({ name: 'j', ops: [a] });
    const other = job({ name: 'other', ops: [a] });
    const s = schedule({ name: 's', cron: '0 * * * *', job: other });
    assert.deepEqual([s.timezone, s.defaultStatus], ['UTC', 'STOPPED']);
    assert.throws(() => defineLocation({ jobs: [j], schedules: [s] }), invalid(/schedule s targets job other/));
    assert.throws(() => schedule({ name: 's', cron: 'every minute', job: j }), invalid(/is not a cron/));
    const sn = sensor({ name: 'sn', job: j, evaluate: () => ({}) });
    assert.equal(sn.minIntervalSeconds, 30);
    assert.throws(
      () => sensor({ name: 'x', job: j, minIntervalSeconds: 0, evaluate: () => ({}) }),
      invalid(/positive/),
    );
  });

  test('location names must be unique per kind, and partitions per name', () => {
    const j = job({ name: 'j', ops: [a] });
    assert.throws(() => defineLocation({ jobs: [j, j] }), invalid(/two jobs are named "j"/));
    const p1 = job({ name: 'p1', ops: [a], partitions: staticPartitions({ name: 'p', keys: ['x'] }) });
    const p2 = job({ name: 'p2', ops: [a], partitions: staticPartitions({ name: 'p', keys: ['y'] }) });
    assert.throws(
      () => defineLocation({ jobs: [p1, p2] }),
      invalid(/two different partitions definitions are named "p"/),
    );
    assert.throws(() => staticPartitions({ name: 'q', keys: ['x', 'x'] }), invalid(/not unique/));
  });
});
