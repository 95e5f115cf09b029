// The import zones in eslint.config.js, run through ESLint on real files' paths with one import
// added: a cross-zone import is an error (there is no allow-list left). Workflow
// code imports values only from the pure shared modules, which import nothing at run time.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// Type information is not needed for import rules; without it the run takes seconds, not a minute.
const eslint = new ESLint({ overrideConfig: { files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked } });

/** The messages of `rule` when `line` is prepended to the real file at `file`. */
async function lintWith(file: string, line: string): Promise<Array<{ severity: number; text: string }>> {
  const code = `${line}\n${readFileSync(file, 'utf8')}`;
  const [result] = await eslint.lintText(code, { filePath: file });
  return result!.messages
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === '@typescript-eslint/no-restricted-imports')
    .filter((m) => m.line === 1)
    .map((m) => ({ severity: m.severity, text: m.message }));
}

const cases: Array<[string, string]> = [
  ['src/control-plane/core/partition-key.ts', "import { Poller } from '../../agent/poller.js';"],
  ['src/control-plane/core/partition-key.ts', "import { partitionKeys } from '../../user-code/sdk/partitions.js';"],
  ['src/control-plane/store/runs.ts', "import { createRun } from '../services/runs-service.js';"],
  ['src/control-plane/store/runs.ts', "import { Poller } from '../../agent/poller.js';"],
  ['src/control-plane/http/handler.ts', "import { loadLocation } from '../../user-code/common/load-location.js';"],
  ['src/agent/poller.ts', "import { runWorker } from '../user-code/run-worker/run-worker.js';"],
  ['src/agent/launchers/sandbox.ts', "import type { Store } from '../../control-plane/store/store.js';"],
  ['src/user-code/run-worker/run-worker.ts', "import { backoff } from '../../agent/backoff.js';"],
  ['src/user-code/sdk/index.ts', "import { runWorker } from '../run-worker/run-worker.js';"],
  ['src/user-code/code-server/code-server.ts', "import { EventSpool } from '../run-worker/event-spool.js';"],
  ['activities/failures.ts', "import { Poller } from '../src/agent/poller.js';"],
  ['activities/index.ts', "import { backoff } from '../src/agent/backoff.js';"],
  ['activities/run-process.ts', "import { SpoolWatch } from '../src/agent/spool-watch.js';"],
  ['activities/ports.ts', "import type { Launcher } from '../src/agent/launchers/launcher.js';"],
  ['src/agent/agent.ts', "import { createActivities } from '../../activities/index.js';"],
  ['src/agent/worker.ts', "import type { Activities } from '../../activities/index.js';"],
  ['src/agent/poller.ts', "import { WORKFLOW_TYPES } from '../../workflows/types.js';"],
  ['workflows/run.ts', "import { readFileSync } from 'node:fs';"],
  ['workflows/run.ts', "import { PayloadSchemas } from '../src/shared/work-items.js';"],
  ['workflows/run.ts', "import { createActivities } from '../activities/index.js';"],
  ['src/shared/run-status.ts', "import { z } from 'zod';"],
  ['src/shared/workflow-contract.ts', "import { newId } from './ids.js';"],
];

test('a cross-zone import fails lint', async () => {
  for (const [file, line] of cases) {
    const msgs = await lintWith(file, line);
    assert.ok(
      msgs.some((m) => m.severity === 2),
      `${file}: ${line} must be an error, got ${JSON.stringify(msgs)}`,
    );
  }
});

test('imports inside a zone or of src/shared are fine', async () => {
  assert.deepEqual(await lintWith('src/agent/poller.ts', "import { backoff } from './backoff.js';"), []);
  assert.deepEqual(
    await lintWith('activities/failures.ts', "import { OutpostError } from '../src/shared/errors.js';"),
    [],
  );
  assert.deepEqual(await lintWith('activities/run-process.ts', "import type { RunSpool } from './ports.js';"), []);
  assert.deepEqual(
    await lintWith('workflows/run.ts', "import { runWorkflowId } from '../src/shared/workflow-contract.js';"),
    [],
  );
  assert.deepEqual(
    await lintWith('workflows/run.ts', "import type { RunEvent } from '../src/shared/run-events.js';"),
    [],
  );
  assert.deepEqual(
    await lintWith('src/shared/workflow-contract.ts', "import type { RunEvent } from './run-events.js';"),
    [],
  );
  assert.deepEqual(await lintWith('src/control-plane/http/handler.ts', "import { x } from './agent-api.js';"), []);
  assert.deepEqual(
    await lintWith('src/user-code/run-worker/run-worker.ts', "import { op } from '../sdk/definitions.js';"),
    [],
  );
});
