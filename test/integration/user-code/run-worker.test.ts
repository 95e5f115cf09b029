// `outpost api execute-run` as a real child process: success, failure, config-schema violation,
// SIGTERM (cooperative and stubborn ops), concurrency, op subsets, stdio capture, credentials.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorCode } from '../../../src/shared/errors.js';
import {
  assertContiguous,
  readEvents,
  readLog,
  shape,
  startWorker,
  waitForEvents,
} from '../../support/run-worker-process.js';

const EDGE = 'test/fixtures/user-code/edge-location/definitions.ts';

describe('run worker', () => {
  test('hello: the exact event sequence, contiguous seqs, stdout in the log file, exit 0', async () => {
    const run = startWorker({ job: 'hello' });
    const { code } = await run.exit;
    const events = readEvents(run.spoolDir);
    assert.equal(code, 0, readLog(run.spoolDir, 'stderr'));
    assertContiguous(events);
    assert.deepEqual(shape(events), [
      'RUN_START',
      'STEP_START:who',
      'STEP_OUTPUT:who',
      'STEP_SUCCESS:who',
      'STEP_START:greeting',
      'LOG:greeting',
      'STEP_OUTPUT:greeting',
      'STEP_SUCCESS:greeting',
      'STEP_START:say',
      'STEP_OUTPUT:say',
      'STEP_SUCCESS:say',
      'RUN_SUCCESS',
    ]);
    assert.equal(events[0]!.data?.job, 'hello');
    const log = events.find((e) => e.type === 'LOG')!;
    assert.deepEqual([log.level, log.message, log.data], ['info', 'composing greeting', { name: 'outpost' }]);
    assert.deepEqual(events.find((e) => e.type === 'STEP_OUTPUT' && e.stepKey === 'say')!.data?.metadata, {
      characters: 18,
    });
    assert.equal(readLog(run.spoolDir, 'stdout'), 'hello from outpost\n');
  });

  test('fail: STEP_FAILURE and RUN_FAILURE carry the error and its stack, exit 1', async () => {
    const run = startWorker({ job: 'fail' });
    assert.equal((await run.exit).code, 1);
    const events = readEvents(run.spoolDir);
    assertContiguous(events);
    assert.deepEqual(shape(events), ['RUN_START', 'STEP_START:explode', 'STEP_FAILURE:explode', 'RUN_FAILURE']);
    const [stepFailure, runFailure] = events.slice(2);
    assert.equal(stepFailure!.error?.message, 'this op always fails');
    assert.match(stepFailure!.error?.stack ?? '', /examples\/hello\/definitions\.ts:\d+/);
    assert.equal(runFailure!.error?.message, 'this op always fails');
    assert.match(runFailure!.error?.stack ?? '', /at /);
    assert.deepEqual(runFailure!.data?.failedSteps, ['explode']);
  });

  test('config violating the zod schema: RUN_FAILURE with CONFIG_SCHEMA_VIOLATION before any op, exit 1', async () => {
    const run = startWorker({ job: 'sleepy', config: { seconds: 'soon' } });
    assert.equal((await run.exit).code, 1);
    const events = readEvents(run.spoolDir);
    assert.deepEqual(shape(events), ['RUN_START', 'RUN_FAILURE']);
    assert.equal(events[1]!.data?.code, errorCode('CONFIG_SCHEMA_VIOLATION'));
    assert.match(events[1]!.message ?? '', /seconds: .*expected number/);
  });

  test('config violating a JSON Schema (ajv) is refused the same way; defaults apply when valid', async () => {
    const bad = startWorker({ module: EDGE, job: 'diamond', config: { size: 0, extra: true } });
    assert.equal((await bad.exit).code, 1);
    const events = readEvents(bad.spoolDir);
    assert.deepEqual(shape(events), ['RUN_START', 'RUN_FAILURE']);
    assert.equal(events[1]!.data?.code, errorCode('CONFIG_SCHEMA_VIOLATION'));
    assert.equal((events[1]!.data?.issues as string[]).length, 2);
  });

  test('SIGTERM on sleepy: the op sees the abort, RUN_CANCELED is written, exit 143', async () => {
    const run = startWorker({ job: 'sleepy', config: { seconds: 60 } });
    await waitForEvents(run.spoolDir, (e) => e.some((x) => x.type === 'LOG'));
    run.child.kill('SIGTERM');
    assert.equal((await run.exit).code, 143);
    const events = readEvents(run.spoolDir);
    assertContiguous(events);
    assert.deepEqual(shape(events), ['RUN_START', 'STEP_START:nap', 'LOG:nap', 'STEP_CANCELED:nap', 'RUN_CANCELED']);
    assert.equal(events[3]!.error, undefined, 'a canceled step carries no error');
  });

  test('SIGTERM on an op that ignores the signal: RUN_CANCELED after the grace period, exit 143', async () => {
    const run = startWorker({ module: EDGE, job: 'stubborn', extraArgs: ['--grace-ms', '300'] });
    await waitForEvents(run.spoolDir, (e) => e.some((x) => x.type === 'STEP_START'));
    run.child.kill('SIGTERM');
    assert.equal((await run.exit).code, 143);
    const events = readEvents(run.spoolDir);
    assert.deepEqual(shape(events), ['RUN_START', 'STEP_START:ignore_signal', 'RUN_CANCELED']);
    assert.equal(events[2]!.data?.graceExpired, true);
  });

  test('independent ops run concurrently up to --max-concurrency, and inputs flow downstream', async () => {
    const parallel = startWorker({ module: EDGE, job: 'diamond', extraArgs: ['--max-concurrency', '2'] });
    const serial = startWorker({ module: EDGE, job: 'diamond', extraArgs: ['--max-concurrency', '1'] });
    assert.equal((await parallel.exit).code, 0);
    assert.equal((await serial.exit).code, 0);
    const steps = (dir: string) => shape(readEvents(dir)).filter((s) => /STEP_(START|SUCCESS):[bc]/.test(s));
    assert.deepEqual(steps(parallel.spoolDir), ['STEP_START:b', 'STEP_START:c', 'STEP_SUCCESS:b', 'STEP_SUCCESS:c']);
    assert.deepEqual(steps(serial.spoolDir), ['STEP_START:b', 'STEP_SUCCESS:b', 'STEP_START:c', 'STEP_SUCCESS:c']);
    const d = readEvents(parallel.spoolDir).find((e) => e.type === 'STEP_OUTPUT' && e.stepKey === 'd');
    assert.deepEqual(d?.data?.metadata, { sum: 5 });
  });

  test('an error escaping user code (a throwing timer) still ends the run with RUN_FAILURE', async () => {
    const run = startWorker({ module: EDGE, job: 'stray' });
    assert.equal((await run.exit).code, 1);
    const events = readEvents(run.spoolDir);
    assertContiguous(events);
    assert.deepEqual(shape(events), ['RUN_START', 'STEP_START:leak', 'RUN_FAILURE']);
    assert.deepEqual([events[2]!.error?.name, events[2]!.error?.message], ['EvalError', 'thrown from a stray timer']);
  });

  test('an error escaping user code after SIGTERM (a cleanup that throws) ends the run RUN_CANCELED, the error kept', async () => {
    const run = startWorker({ module: EDGE, job: 'messy_stop' });
    await waitForEvents(run.spoolDir, (e) => e.some((x) => x.type === 'STEP_START'));
    run.child.kill('SIGTERM');
    assert.equal((await run.exit).code, 143);
    const events = readEvents(run.spoolDir);
    assertContiguous(events);
    assert.deepEqual(shape(events), ['RUN_START', 'STEP_START:cleanup_throws', 'RUN_CANCELED']);
    const failure = events[2]!.data?.failure as { error?: { name?: string; message?: string } } | undefined;
    assert.deepEqual([failure?.error?.name, failure?.error?.message], ['EvalError', 'cleanup failed on termination']);
  });

  test('SIGTERM to its process group while it still loads through tsx (no transform cache, as on a fresh clone): RUN_CANCELED', async () => {
    // The group's SIGTERM also kills tsx's esbuild service, a child in that group, and the import
    // waiting for it fails: the termination's doing, not the run's failure (a fresh CI clone
    // ended a terminated run FAILURE with "Run worker error: The service was stopped").
    for (let i = 0; i < 3; i++) {
      const run = startWorker({
        job: 'sleepy',
        config: { seconds: 60 },
        detached: true,
        env: { TSX_DISABLE_CACHE: '1' },
      });
      await waitForEvents(run.spoolDir, (e) => e.some((x) => x.type === 'RUN_START'));
      process.kill(-run.child.pid!, 'SIGTERM');
      const exit = await run.exit;
      const last = readEvents(run.spoolDir).at(-1);
      assert.equal(last?.type, 'RUN_CANCELED', `attempt ${i + 1}: ${JSON.stringify(last)}`);
      assert.equal(exit.code, 143);
    }
  });

  test('--ops runs a subset only', async () => {
    const run = startWorker({ module: EDGE, job: 'diamond', extraArgs: ['--ops', 'a,c'] });
    assert.equal((await run.exit).code, 0);
    assert.deepEqual(
      shape(readEvents(run.spoolDir)).filter((s) => s.startsWith('STEP_START')),
      ['STEP_START:a', 'STEP_START:c'],
    );
  });

  test('run by hand (stdio on pipes): op output still lands in the log files; tokens never reach ops', async () => {
    const run = startWorker({
      module: EDGE,
      job: 'env_probe',
      stdio: 'pipe',
      env: { OUTPOST_AGENT_TOKEN: 'secret-a', OUTPOST_TOKEN: 'secret-u', OUTPOST_PROBE_PLAIN: 'visible' },
    });
    let piped = '';
    run.child.stdout!.on('data', (d: Buffer) => (piped += d.toString()));
    run.child.stderr!.on('data', (d: Buffer) => (piped += d.toString()));
    assert.equal((await run.exit).code, 0);
    assert.equal(readLog(run.spoolDir, 'stdout'), 'raw stdout write\n');
    assert.equal(readLog(run.spoolDir, 'stderr'), 'to stderr from op\n');
    assert.equal(piped, '');
    const log = readEvents(run.spoolDir).find((e) => e.type === 'LOG')!;
    assert.deepEqual(log.data, { secrets: [], plain: 'visible' });
  });

  test('chatty logs as many LOG events as configured', async () => {
    const run = startWorker({ job: 'chatty', config: { events: 2000 } });
    assert.equal((await run.exit).code, 0);
    const events = readEvents(run.spoolDir);
    assertContiguous(events);
    assert.equal(events.filter((e) => e.type === 'LOG').length, 2000);
    assert.equal(events.at(-1)!.type, 'RUN_SUCCESS');
  });

  test('an unknown job or a module that fails to load ends the run with RUN_FAILURE', async () => {
    const unknown = startWorker({ job: 'nope' });
    const broken = startWorker({ module: 'test/fixtures/user-code/broken-location/definitions.ts', job: 'any' });
    assert.equal((await unknown.exit).code, 1);
    assert.equal((await broken.exit).code, 1);
    const u = readEvents(unknown.spoolDir);
    assert.deepEqual(shape(u), ['RUN_START', 'RUN_FAILURE']);
    assert.equal(u[1]!.data?.code, errorCode('UNKNOWN_JOB'));
    const b = readEvents(broken.spoolDir);
    assert.deepEqual(shape(b), ['RUN_START', 'RUN_FAILURE']);
    assert.equal(b[1]!.data?.code, errorCode('USER_CODE_LOAD_FAILED'));
    assert.match(b[1]!.message ?? '', /broken on purpose/);
  });
});
