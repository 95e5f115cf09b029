// A FAILED work item's error as the user API reports it: the agent's coded message passed through
// once, without the code's title said twice ("Run config does not match the job's config
// schema: run config of loc/job: Run config does not match the job's config schema: ...", as a
// Dagster location's invalid run config read before).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { itemError } from '../../../src/control-plane/services/query-location.js';
import { OutpostError } from '../../../src/shared/errors.js';
import type { WorkItemView } from '../../../src/control-plane/store/work-items.js';

const failed = (err: OutpostError): WorkItemView =>
  ({ id: 'wi_1', status: 'FAILED', error: { code: err.code, message: err.message } }) as unknown as WorkItemView;

test("an agent's coded error keeps its code and is titled once", () => {
  const agent = new OutpostError('CONFIG_SCHEMA_VIOLATION', {
    detail: 'Error in config for job greeting_job\n    Error 1: Missing required config entry "ops" at the root.',
  });
  const e = itemError(failed(agent), 'INTERNAL', 'run config of dag/greeting_job');
  assert.equal(e.code, 'OUTPOST_ERR_CONFIG_SCHEMA_VIOLATION');
  assert.equal(
    e.message,
    'Run config does not match the job\'s config schema: run config of dag/greeting_job: Error in config for job greeting_job\n    Error 1: Missing required config entry "ops" at the root.',
  );
});

test('a code this registry does not know falls back, naming the code', () => {
  const item = { id: 'wi_2', status: 'FAILED', error: { code: 'OUTPOST_ERR_FROM_THE_FUTURE', message: 'x' } };
  const e = itemError(item as unknown as WorkItemView, 'INTERNAL', 'evaluating s');
  assert.equal(e.code, 'OUTPOST_ERR_INTERNAL');
  assert.match(e.message, /evaluating s: OUTPOST_ERR_FROM_THE_FUTURE: x$/);
});
