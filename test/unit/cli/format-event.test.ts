// `outpost runs show` / `--follow` lines: an error's message is printed once, and a step
// failure's Dagster error (a stack of frames only) keeps its message beside the stack.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatEvent, type EventRow } from '../../../src/cli/commands/runs.js';

const row = (over: Partial<EventRow>): EventRow => ({
  seq: 12,
  type: 'RUN_FAILURE',
  timestamp: Date.UTC(2026, 10, 30, 5, 30, 21, 343),
  stepKey: null,
  level: 'error',
  message: null,
  error: null,
  ...over,
});

test('an error whose message is the event message is printed once', () => {
  const m = 'the run worker was killed by SIGKILL without a terminal event';
  assert.equal(formatEvent(row({ message: m, error: { message: m } })), `05:30:21.343    12 RUN_FAILURE ${m}`);
});

test("a Dagster step failure shows its error's message, then the stack with its cause", () => {
  const line = formatEvent(
    row({
      type: 'STEP_FAILURE',
      stepKey: 'boom',
      message: 'Execution of step "boom" failed.',
      error: {
        message: 'DagsterExecutionStepExecutionError: Error occurred while executing op "boom":',
        stack:
          '  File "x.py", line 1\nThe above exception was caused by the following exception:\nValueError: kaboom\n',
      },
    }),
  );
  assert.equal(
    line,
    '05:30:21.343    12 STEP_FAILURE [boom] Execution of step "boom" failed. DagsterExecutionStepExecutionError: Error occurred while executing op "boom":\n' +
      '  File "x.py", line 1\nThe above exception was caused by the following exception:\nValueError: kaboom\n',
  );
});

test('a JavaScript stack that starts with the message is not preceded by it again', () => {
  const stack = 'Error: nope\n    at f (file.ts:1:1)';
  assert.equal(
    formatEvent(row({ type: 'STEP_FAILURE', stepKey: 'a', message: 'failed', error: { message: 'nope', stack } })),
    `05:30:21.343    12 STEP_FAILURE [a] failed\n${stack}`,
  );
});

test("a Dagster step failure's cause chain, in both its message and its stack, is printed once", () => {
  // The capture (event_mapping.py) chains the cause into the message and into the stack alike:
  // the message's own first paragraph is printed, the chain comes with the stack.
  const caused = 'The above exception was caused by the following exception:\nValueError: kaboom from user code';
  const line = formatEvent(
    row({
      type: 'STEP_FAILURE',
      stepKey: 'boom',
      message: 'Execution of step "boom" failed.',
      error: {
        message: `DagsterExecutionStepExecutionError: Error occurred while executing op "boom":\n\n${caused}`,
        stack: `  File "x.py", line 1, in a\n    f()\n\n${caused}\n  File "defs.py", line 4, in boom\n`,
      },
    }),
  );
  assert.equal(line.split('kaboom from user code').length - 1, 1, line);
  assert.ok(line.includes('Error occurred while executing op "boom":\n  File "x.py"'), line);
});

test("a materialization's metadata and an asset check's verdict are printed under its line (runs show, --follow)", () => {
  const materialized = formatEvent(
    row({
      type: 'ASSET_MATERIALIZATION',
      level: 'info',
      stepKey: 'orders',
      assetKey: 'orders',
      message: 'Materialized value orders.',
      data: {
        metadata: { rows: 42, path: '/tmp/x.csv', preview: { records: [{ a: 1 }] } },
        dagster: '{"__class__":…}',
      },
    }),
  );
  assert.equal(
    materialized,
    '05:30:21.343    12 ASSET_MATERIALIZATION [orders] Materialized value orders.\n' +
      '                    rows: 42\n' +
      '                    path: /tmp/x.csv\n' +
      '                    preview: {"records":[{"a":1}]}',
  );
  const check = formatEvent(
    row({
      type: 'ENGINE',
      level: 'warn',
      message: 'Asset check no_nulls on orders failed',
      data: {
        assetCheck: { name: 'no_nulls', assetKey: 'orders', passed: false, severity: 'WARN' },
        metadata: { nulls: 3 },
      },
    }),
  );
  assert.equal(
    check,
    '05:30:21.343    12 ENGINE Asset check no_nulls on orders failed\n' +
      '                    check no_nulls on orders: failed (WARN)\n' +
      '                    nulls: 3',
  );
  const long = formatEvent(
    row({ type: 'ASSET_OBSERVATION', assetKey: 'a/b', data: { metadata: { t: 'x'.repeat(300) } } }),
  );
  assert.match(long, /ASSET_OBSERVATION \(asset a\/b\)\n {20}t: x{200}…$/);
});
