// Records a finished workflow's history into test/fixtures/histories/<name>.json when
// OUTPOST_RECORD_HISTORIES=1, for the replay (determinism) test. Off by default, so normal
// test runs never rewrite committed fixtures.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { format } from 'prettier';
import { historyToJson } from './history-json.js';

export const HISTORIES_DIR = resolve('test/fixtures/histories');

export async function recordHistory(client: Client, workflowId: string, name: string): Promise<void> {
  if (process.env.OUTPOST_RECORD_HISTORIES !== '1') return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const json = historyToJson(history);
  // Formatted as the repo's `prettier --check` expects, so recorded fixtures pass lint as written.
  const text = await format(JSON.stringify({ workflowId, history: json }), { parser: 'json' });
  writeFileSync(join(HISTORIES_DIR, `${name}.json`), text);
}
