// A real Worker runs a real workflow and activity on the real dev server; the client reads the result.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import * as activities from '../fixtures/smoke-activities.js';
import type { smokeWorkflow } from '../fixtures/smoke-workflows.js';
import { testTemporal, uniqueTaskQueue } from '../support/temporal.js';

test('a real worker executes a workflow and its activity on the dev server', async () => {
  const t = await testTemporal();
  const taskQueue = uniqueTaskQueue('smoke');
  const result = await t.withWorker(
    { taskQueue, activities, workflowsPath: fileURLToPath(new URL('../fixtures/smoke-workflows.ts', import.meta.url)) },
    () =>
      t.client.workflow.execute<typeof smokeWorkflow>('smokeWorkflow', {
        taskQueue,
        workflowId: `smoke-${taskQueue}`,
        args: ['outpost'],
      }),
  );
  assert.equal(result, `workflow says: hello outpost from pid ${process.pid}`);
  const desc = await t.client.workflow.getHandle(`smoke-${taskQueue}`).describe();
  assert.equal(desc.status.name, 'COMPLETED');
});
