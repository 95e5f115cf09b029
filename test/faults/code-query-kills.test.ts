// kill -9 of a real `outpost agent` while it answers a code-location query (QUERY_CODE_LOCATION,
// the same one-activity workflow shape as a sync): the activity attempt it took dies with it.
// Before, that attempt sat STARTED until its 5 min start-to-close (the throughput bench's
// "items ACKED for minutes" under load: a worker that took the task and never finished it);
// now the attempt stops heartbeating, Temporal times it out within the heartbeat timeout and
// the retry runs on the restarted agent, which answers. An item whose every attempt is lost
// fails with a stable code saying what to do, instead of staying open.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { enqueueWork, getWorkItem } from '../../src/control-plane/store/work-items.js';
import { errorCode } from '../../src/shared/errors.js';
import { historyToJson } from '../support/history-json.js';
import { kill9, stopGracefully } from '../support/process.js';
import { spawnAgentProcess, startStack, type Stack } from '../support/stack.js';
import { testTemporal } from '../support/temporal.js';
import { until } from '../support/wait.js';

const t = await testTemporal();
const SDK = resolve('src/user-code/sdk/index.ts');
/** Far below the old 5 min start-to-close, far above heartbeat timeout + restart + retry. */
const BOUND_MS = 90_000;

interface HistoryEventJson {
  eventTime: string;
  eventType: string;
  activityTaskStartedEventAttributes?: { attempt: number };
  activityTaskTimedOutEventAttributes?: { failure?: { message?: string } };
}

describe('fault injection: kill -9 the agent mid code-location query', () => {
  let stack: Stack;
  let agent: ChildProcess | undefined;
  // Outside the stack's dir: that one holds the agent's token file, which the sandbox hides.
  const dir = mkdtempSync(join(tmpdir(), 'outpost-query-kills-'));
  const calls = join(dir, 'calls');

  before(async () => {
    stack = await startStack({ temporalAddress: t.address });
    agent = await spawnAgentProcess(stack);
    // partitionConfig appends a line per call, then hangs while the `hang` file exists (the
    // code server's own 30 s bound on user calls is never reached: the agent dies first).
    const module = join(dir, 'definitions.ts');
    writeFileSync(
      module,
      `import { appendFileSync, existsSync } from 'node:fs';\n` +
        `import { setTimeout as sleep } from 'node:timers/promises';\n` +
        `import { defineLocation, job, op, staticPartitions } from ${JSON.stringify(SDK)};\n` +
        `const parts = staticPartitions({ name: 'p', keys: ['a'] });\n` +
        `const j = job({ name: 'j', ops: [op({ name: 'o' }, () => 1)], partitions: parts, partitionConfig: async (key) => {\n` +
        `  appendFileSync(${JSON.stringify(calls)}, String(process.pid) + '\\n');\n` +
        `  while (existsSync(${JSON.stringify(join(dir, 'hang'))})) await sleep(100);\n` +
        `  return { key };\n} });\n` +
        `export default defineLocation({ name: 'stalls', jobs: [j] });\n`,
    );
    await stack.deploy('stalls', module);
    assert.equal((await stack.locationStatus('stalls')).status, 'LOADED');
  });
  after(async () => {
    await stopGracefully(agent);
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The workflow's history as `+ms EVENT (detail)` lines: where the time went. */
  async function timeline(workflowId: string): Promise<string> {
    const handle = t.client.workflow.getHandle(workflowId);
    // A retried activity's STARTED event is written when its last attempt ends: wait for that.
    await handle.result();
    const history = await handle.fetchHistory();
    const { events } = historyToJson(history) as { events: HistoryEventJson[] };
    const start = Date.parse(events[0]?.eventTime ?? '');
    return events
      .map((e) => {
        const detail =
          e.activityTaskTimedOutEventAttributes?.failure?.message ??
          (e.activityTaskStartedEventAttributes ? `attempt ${e.activityTaskStartedEventAttributes.attempt}` : '');
        return `  +${Date.parse(e.eventTime) - start} ms ${e.eventType.replace('EVENT_TYPE_', '')}${detail ? ` (${detail})` : ''}`;
      })
      .join('\n');
  }

  const callCount = (): number =>
    existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean).length : 0;

  async function enqueueQuery(): Promise<string> {
    const { item } = await enqueueWork(stack.cp.store, {
      kind: 'QUERY_CODE_LOCATION',
      payload: { location: 'stalls', query: 'partitionConfig', job: 'j', partitionKey: 'a' },
    });
    return item.id;
  }

  /** Waits for the `n`th call into user code, then kills the agent answering it and starts another. */
  async function killMidCall(n: number): Promise<void> {
    await until(`user-code call ${n} under way`, () => callCount() >= n, 60_000, 50);
    await kill9(agent);
    agent = await spawnAgentProcess(stack);
  }

  async function finished(id: string, what: string) {
    const t0 = Date.now();
    const item = await until(
      `${what} finished within ${BOUND_MS} ms of the kill (the lost attempt timed out and was retried)`,
      async () => {
        const i = await getWorkItem(stack.cp.store.db, id);
        return i && (i.status === 'COMPLETED' || i.status === 'FAILED') ? i : undefined;
      },
      BOUND_MS,
      100,
    );
    console.log(
      `${what}: ${item.status} ${Date.now() - t0} ms after the restart${item.error ? ` (${item.error.code}: ${item.error.message})` : ''}`,
    );
    if (item.workflowId) console.log(await timeline(item.workflowId));
    return item;
  }

  test('the attempt lost with the agent is retried on the restarted agent, which answers', async () => {
    writeFileSync(join(dir, 'hang'), '');
    writeFileSync(calls, '');
    const id = await enqueueQuery();
    await killMidCall(1);
    rmSync(join(dir, 'hang'));
    const item = await finished(id, 'the query');
    assert.equal(item.status, 'COMPLETED', JSON.stringify(item.error));
    assert.deepEqual(item.result, { answer: { key: 'a' } });
  });

  test('an item whose every attempt is lost fails with a stable code and a hint', async () => {
    writeFileSync(join(dir, 'hang'), '');
    writeFileSync(calls, '');
    const id = await enqueueQuery();
    // Three attempts (the workflow's retry policy), each killed mid-call.
    for (let n = 1; n <= 3; n++) await killMidCall(n);
    const item = await finished(id, 'the query with every attempt lost');
    rmSync(join(dir, 'hang'));
    assert.equal(item.status, 'FAILED');
    assert.equal(item.error?.code, errorCode('WORK_ITEM_ABANDONED'));
    assert.match(item.error?.message ?? '', /heartbeat/i);
  });
});
