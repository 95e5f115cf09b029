// The executor in-process: failure isolation (downstream skipped, independent branches go on),
// the concurrency limit, op config parsing, and cancellation through the AbortSignal.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { z } from 'zod/v4';
import type { NewEvent } from '../../../src/user-code/run-worker/event-spool.js';
import { job, op, type JobDef } from 'outpost/sdk';
import { executeJob } from '../../../src/user-code/run-worker/run-executor.js';

async function execute(j: JobDef, opts: { maxConcurrency?: number; runConfig?: unknown; signal?: AbortSignal } = {}) {
  const events: NewEvent[] = [];
  const outcome = await executeJob({
    runId: 'run_unit',
    job: j,
    runConfig: opts.runConfig ?? {},
    maxConcurrency: opts.maxConcurrency ?? 4,
    signal: opts.signal ?? new AbortController().signal,
    emit: (e) => events.push(e),
    checkpoint: () => undefined,
  });
  return { outcome, events, shape: events.map((e) => `${e.type}:${e.stepKey ?? ''}`) };
}

describe('executeJob', () => {
  test('a failed op skips its downstream ops while an independent branch still runs', async () => {
    const root = op({ name: 'root' }, () => 1);
    const bad = op({ name: 'bad', ins: { r: root } }, () => {
      throw new Error('nope');
    });
    const after = op({ name: 'after', ins: { b: bad } }, () => 0);
    const other = op({ name: 'other', ins: { r: root } }, (_c, { r }) => r);
    const { outcome, shape, events } = await execute(job({ name: 'j', ops: [root, bad, after, other] }));
    assert.equal(outcome.status, 'failure');
    assert.deepEqual(outcome.status === 'failure' && outcome.failedSteps, ['bad']);
    assert.ok(shape.includes('STEP_SUCCESS:other'));
    assert.ok(!shape.includes('STEP_START:after'));
    assert.match(events.find((e) => e.type === 'LOG' && e.stepKey === 'after')?.message ?? '', /upstream step bad/);
  });

  test('never runs more ops at once than the limit', async () => {
    let running = 0;
    let peak = 0;
    const ops = Array.from({ length: 6 }, (_, i) =>
      op({ name: `o${i}` }, async () => {
        peak = Math.max(peak, ++running);
        await sleep(5);
        running--;
      }),
    );
    const { outcome } = await execute(job({ name: 'wide', ops }), { maxConcurrency: 3 });
    assert.equal(outcome.status, 'success');
    assert.equal(peak, 3);
  });

  test('op config is parsed with its schema; a mismatch fails the step with the issue', async () => {
    const typed = op({ name: 'typed', config: z.object({ n: z.number().default(7) }) }, (ctx) => {
      ctx.addOutputMetadata({ n: ctx.config.n });
    });
    const ok = await execute(job({ name: 'j', ops: [typed], config: { type: 'object' } }), { runConfig: {} });
    assert.deepEqual(ok.events.find((e) => e.type === 'STEP_OUTPUT')?.data?.metadata, { n: 7 });
    const bad = await execute(job({ name: 'j', ops: [typed], config: { type: 'object' } }), { runConfig: { n: 'x' } });
    assert.equal(bad.outcome.status, 'failure');
    assert.match(
      bad.events.find((e) => e.type === 'STEP_FAILURE')?.error?.message ?? '',
      /config for op typed is invalid: n:/,
    );
  });

  test('abort: running ops see the signal, nothing new starts, the outcome is canceled', async () => {
    const abort = new AbortController();
    const first = op({ name: 'first' }, async (ctx) => {
      setTimeout(() => abort.abort(), 5);
      await sleep(10_000, undefined, { signal: ctx.signal });
    });
    const second = op({ name: 'second', ins: { f: first } }, () => 0);
    const { outcome, shape, events } = await execute(job({ name: 'j', ops: [first, second] }), {
      signal: abort.signal,
    });
    assert.equal(outcome.status, 'canceled');
    // Stopped by the termination, not failed: STEP_CANCELED, without the AbortError as an error.
    assert.deepEqual(shape, ['STEP_START:first', 'STEP_CANCELED:first']);
    assert.equal(events[1]?.error, undefined);
    assert.match(events[1]?.message ?? '', /canceled/);
  });

  test('log fields that JSON cannot hold are made safe', async () => {
    const weird = op({ name: 'weird' }, (ctx) => {
      ctx.log.warn('odd values', { big: 10n, err: new RangeError('r') });
    });
    const { events } = await execute(job({ name: 'j', ops: [weird] }));
    const log = events.find((e) => e.type === 'LOG')!;
    assert.equal(log.level, 'warn');
    assert.equal(log.data?.big, '10');
    assert.equal((log.data?.err as { name: string }).name, 'RangeError');
  });
});
