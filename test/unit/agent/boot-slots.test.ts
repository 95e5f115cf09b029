// The cold-boot cap's pure parts: slots are granted first come, first served, never more than
// the limit at once, a release is counted once, a limit of 0 never waits; and a spool holding
// RUN_START alone is still booting while one with a second event (or a partial one) is not; and
// the agent's two settings (--max-booting-run-workers, --run-worker-cpu-weight) load as documented.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BootProbe, BootSlots, bootEnded, whenBooted } from '../../../src/agent/launchers/boot-slots.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-boot-slots-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('at most `limit` slots at once, granted in order, each release counted once', async () => {
  const slots = new BootSlots(2);
  const order: number[] = [];
  const releases = await Promise.all([slots.acquire(), slots.acquire()]);
  const waiting = [3, 4, 5].map((n) => slots.acquire().then((release) => (order.push(n), release)));
  await new Promise((r) => setImmediate(r));
  assert.equal(slots.booting, 2);
  assert.equal(slots.waiting, 3);
  releases[0]();
  releases[0](); // a second call gives nothing back
  const third = await waiting[0]!;
  assert.deepEqual(order, [3]);
  assert.equal(slots.booting, 2);
  assert.equal(slots.waiting, 2);
  releases[1]();
  third();
  const rest = await Promise.all(waiting.slice(1));
  assert.deepEqual(order, [3, 4, 5]);
  for (const r of rest) r();
  assert.equal(slots.booting, 0);
  assert.equal(slots.peak, 2);
});

test('limit 0: no cap, nobody waits', async () => {
  const slots = new BootSlots(0);
  await Promise.all(Array.from({ length: 50 }, () => slots.acquire()));
  assert.equal(slots.booting, 50);
  assert.equal(slots.waiting, 0);
});

test('a boot ends with the second spool event, a process exit, or the timeout', async () => {
  const spool = join(dir, 'spool');
  const events = join(spool, SPOOL_FILES.events);
  assert.equal(bootEnded(spool), false, 'no spool yet');
  await import('node:fs').then((fs) => fs.mkdirSync(spool));
  writeFileSync(events, `${JSON.stringify({ seq: 1, type: 'RUN_START' })}\n`);
  assert.equal(bootEnded(spool), false, 'RUN_START alone');
  let booted = false;
  const done = whenBooted(spool, new Promise(() => undefined), 60_000).then(() => (booted = true));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(booted, false);
  appendFileSync(events, '{"seq":2,"type":"STEP_');
  assert.equal(bootEnded(spool), true, 'a second event being written');
  await done;

  let exit!: () => void;
  const exited = new Promise<void>((r) => (exit = r));
  const byExit = whenBooted(join(dir, 'never'), exited, 60_000);
  exit();
  await byExit;
  await whenBooted(join(dir, 'never'), new Promise(() => undefined), 30);
});

test("a boot probe reads the first line's bytes once; later polls read nothing until the boot ends", () => {
  const spool = join(dir, 'probe');
  mkdirSync(spool);
  const events = join(spool, SPOOL_FILES.events);
  const probe = new BootProbe(events);
  assert.equal(probe.ended(), false, 'no file yet');
  // RUN_START arrives in two writes (a poll may see half a line).
  const first = `${JSON.stringify({ seq: 1, type: 'RUN_START', message: 'x'.repeat(5000) })}\n`;
  writeFileSync(events, first.slice(0, 3000));
  assert.equal(probe.ended(), false, 'half a RUN_START');
  appendFileSync(events, first.slice(3000));
  for (let i = 0; i < 50; i++) assert.equal(probe.ended(), false, 'RUN_START alone');
  // Each byte of the first line was read once: 50 polls of a booting worker read nothing more.
  assert.equal(probe.bytesRead, Buffer.byteLength(first));
  appendFileSync(events, '{"seq":2,"type":"STEP_');
  assert.equal(probe.ended(), true, 'a second event being written');
  assert.equal(probe.bytesRead, Buffer.byteLength(first));
  // A first line that never ends within 64 KiB is not a RUN_START: the boot is taken as ended.
  const long = join(spool, 'long.jsonl');
  writeFileSync(long, 'x'.repeat(70 * 1024));
  assert.equal(new BootProbe(long).ended(), true);
});

test('agent settings: the boot cap and the cgroup weight, from flags, env and defaults', async () => {
  const { loadAgentConfig } = await import('../../../src/agent/config.js');
  const base = { url: 'http://127.0.0.1:1' };
  const d = loadAgentConfig(base, {});
  assert.equal(d.maxBootingRunWorkers, Math.max(4, 2 * availableParallelism()));
  assert.equal(d.runWorkerCpuWeight, 10);
  const e = loadAgentConfig(base, {
    OUTPOST_AGENT_MAX_BOOTING_RUN_WORKERS: '0',
    OUTPOST_AGENT_RUN_WORKER_CPU_WEIGHT: '0',
  });
  assert.deepEqual([e.maxBootingRunWorkers, e.runWorkerCpuWeight], [0, 0]);
  const f = loadAgentConfig({ ...base, maxBootingRunWorkers: '3', runWorkerCpuWeight: '50' }, {});
  assert.deepEqual([f.maxBootingRunWorkers, f.runWorkerCpuWeight], [3, 50]);
  assert.throws(
    () => loadAgentConfig({ ...base, maxBootingRunWorkers: '-1' }, {}),
    /max-booting-run-workers|maxBootingRunWorkers/,
  );
});
