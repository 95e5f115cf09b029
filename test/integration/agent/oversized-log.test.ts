// A LOG event too long for one spool line, through the real stack (control plane, agent, Temporal
// dev server, run worker): user code logging a 9 MiB message, then a 9 MiB field, each followed by
// a normal line. Before, the shipper stopped at the first line over its 8 MiB read limit, nothing
// after it shipped, and the run ended FAILURE ("exited with code 0 without a terminal event"). The
// SDK now cuts both to their named limits, and the run ends SUCCESS with every later event.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { MAX_LOG_DATA_BYTES, MAX_LOG_MESSAGE_BYTES } from '../../../src/shared/message-limits.js';
import { testTemporal } from '../../support/temporal.js';
import { startStack, type Stack } from '../../support/stack.js';

const t = await testTemporal();
let stack: Stack;

before(async () => {
  stack = await startStack({ temporalAddress: t.address });
  await stack.startAgent();
  await stack.deploy('big-log', resolve('test/fixtures/user-code/big-log/definitions.ts'));
});
after(() => stack?.close());

test('a 9 MiB log message and a 9 MiB log field: SUCCESS, both cut with a note, every later event stored', async () => {
  const id = await stack.launch('big_log', {}, 'big-log');
  const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 180_000);
  assert.equal(run.status, 'SUCCESS', JSON.stringify(run.events.map((e) => [e.type, e.message?.slice(0, 200)])));
  const logs = run.events.filter((e) => e.type === 'LOG').map((e) => e.message ?? '');
  const long = logs.find((m) => m.startsWith('xxxx'));
  assert.ok(long, 'the long message is stored, cut');
  assert.ok(Buffer.byteLength(long) <= MAX_LOG_MESSAGE_BYTES, `${Buffer.byteLength(long)} bytes`);
  assert.match(long, /more bytes cut: the limit maxLogMessageBytes is 262144 \(fixed\)\]$/);
  const cutBytes = Number(/\[… (\d+) more bytes cut/.exec(long)?.[1]);
  assert.equal(cutBytes + long.indexOf(' [… '), 9 * 1024 * 1024);
  assert.ok(logs.includes('after the long message'));
  assert.ok(logs.includes('a long field'));
  assert.ok(logs.includes('after the long field'));
  assert.equal(run.events.filter((e) => e.workerSeq !== null).at(-1)?.type, 'RUN_SUCCESS');
  assert.ok(MAX_LOG_DATA_BYTES < 8 * 1024 * 1024);
});
