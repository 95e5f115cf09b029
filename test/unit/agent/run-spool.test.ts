// A run's spool as supervision waits on it (createRunSpools): once its directory is watched, a
// write wakes a long wait, and so does an event handed to wakeOn (the worker's exit), so an idle
// run can be polled rarely without its writes or its end waiting out the poll.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createRunSpools } from '../../../src/agent/run-spool.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-run-spool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const spools = createRunSpools({
  controlPlane: {
    appendRunEventLines: () => Promise.reject(new Error('not shipped in this test')),
    appendComputeLogs: () => Promise.reject(new Error('not shipped in this test')),
  },
  agentId: () => 'agent-1',
  spoolDir: (runId) => join(dir, runId),
  logger: createLogger({ name: 'test', level: 'silent' }),
});
const cursor = (runId: string) => ({ runId, lastSeq: 0, stdoutBytes: 0, stderrBytes: 0, status: 'STARTED' as const });
/** Far longer than any test may take: a wait that returns was woken, not timed out. */
const LONG = 10 * 60_000;

test('a watched spool: a write wakes a long wait', async () => {
  const spool = spools.open('run_write', cursor('run_write'));
  const abort = new AbortController();
  assert.equal(spool.watching, false, 'not watched before the first wait');
  await spool.waitForWrite(LONG, abort.signal); // starts the watch, returns at once
  assert.equal(spool.watching, true);
  const woken = spool.waitForWrite(LONG, abort.signal);
  appendFileSync(join(dir, 'run_write', SPOOL_FILES.stdout), 'a line\n');
  await woken;
  spool.close();
});

test("wakeOn: the event (the worker's exit) wakes a long wait, before or after the watch starts", async () => {
  const abort = new AbortController();
  let exit = (): void => undefined;
  const spool = spools.open('run_exit', cursor('run_exit'));
  spool.wakeOn(new Promise<void>((resolve) => (exit = resolve)));
  await spool.waitForWrite(LONG, abort.signal);
  const woken = spool.waitForWrite(LONG, abort.signal);
  exit();
  await woken;
  spool.close();

  // Exited before the first wait: the wait after it returns at once as well.
  const early = spools.open('run_exit_early', cursor('run_exit_early'));
  early.wakeOn(Promise.resolve());
  await new Promise((r) => setImmediate(r));
  await early.waitForWrite(LONG, abort.signal);
  await early.waitForWrite(LONG, abort.signal);
  early.close();
});
