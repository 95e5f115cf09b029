// Determinism guard: every recorded history (test/fixtures/histories, recorded from the
// integration tests with OUTPOST_RECORD_HISTORIES=1) replays against today's workflow code.
// A workflow change that alters the command sequence without patched() fails here; the second
// test proves the guard bites by replaying against a deliberately changed copy of run.ts.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../../src/cli/agent-root.js';
import { WORKFLOW_TYPES } from '../../../workflows/types.js';
import { historyFromJson } from '../../support/history-json.js';

const DIR = resolve('test/fixtures/histories');

try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // already installed in this process
}

interface Recorded {
  name: string;
  workflowId: string;
  type: string;
  history: ReturnType<typeof historyFromJson>;
}

function load(): Recorded[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const raw = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as { workflowId: string; history: unknown };
      const history = historyFromJson(raw.history);
      const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?';
      return { name: f, workflowId: raw.workflowId, type, history };
    });
}

// Note: no workflowFailureErrorTypes here; with it, runReplayHistories never reports the
// nondeterministic history (SDK 1.24). The agent's live workers do set it.
async function replay(workflowsPath: string, recorded: Recorded[]): Promise<Map<string, Error | undefined>> {
  const results = new Map<string, Error | undefined>();
  const byId = new Map(recorded.map((r) => [r.workflowId, r.name]));
  const iterable = recorded.map((r) => ({ workflowId: r.workflowId, history: r.history }));
  for await (const r of Worker.runReplayHistories({ workflowsPath }, iterable)) {
    results.set(byId.get(r.workflowId) ?? r.workflowId, r.error);
  }
  return results;
}

test('every workflow type has a recorded history, and all of them replay', async () => {
  const recorded = load();
  const types = new Set(recorded.map((r) => r.type));
  for (const type of Object.values(WORKFLOW_TYPES)) assert.ok(types.has(type), `a recorded history of ${type}`);
  const results = await replay(WORKFLOWS_PATH, recorded);
  assert.equal(results.size, recorded.length);
  for (const [name, error] of results) assert.equal(error, undefined, `${name}: ${error?.message}`);
});

test('a change to the run workflow without patched() fails the replay', async () => {
  // A copy beside workflows/, so its package imports (same node_modules) and its imports of the
  // pure src/shared/ modules resolve as the original's do.
  const dir = mkdtempSync(resolve('.replay-mutant-'));
  try {
    cpSync(resolve('workflows'), dir, { recursive: true });
    // Every run workflow file (run.ts: V1-V3, run-v4.ts: V4) gets the same extra activity call.
    for (const file of ['run.ts', 'run-v4.ts']) {
      const runTs = join(dir, file);
      const source = readFileSync(runTs, 'utf8');
      const mutated = source.replace(
        'const host = hostActivities(input.hostTaskQueue ?? (await bookkeeping.hostQueue()));',
        'await bookkeeping.hostQueue();\n  const host = hostActivities(input.hostTaskQueue ?? (await bookkeeping.hostQueue()));',
      );
      assert.notEqual(mutated, source, `the mutation applies to ${file}`);
      writeFileSync(runTs, mutated);
    }
    const runs = load().filter((r) => r.type.startsWith('runWorkflow'));
    const results = await replay(join(dir, 'index.ts'), runs);
    for (const [name, error] of results) {
      assert.ok(error, `${name} must not replay against changed code`);
      assert.match(error.name + error.message, /Determinism|Nondeterminism|nondeterminism/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
