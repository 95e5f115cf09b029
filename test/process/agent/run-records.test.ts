// The run-directory records (src/agent/launchers/run-records.ts) against real processes: what
// the launcher and the standby pool record is what `outpost dev` finds and stops, a recycled
// pid is never signalled, and a restarted agent's pool ends the idle standbys its predecessor
// left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { readProcStat } from '../../../src/agent/launchers/proc.js';
import {
  listRecordedProcesses,
  recordRunProcess,
  runDir,
  signalRecordedGroup,
  stopRecordedProcesses,
  type ProcessRecord,
} from '../../../src/agent/launchers/run-records.js';
import { createLogger } from '../../../src/shared/logger.js';
import { alive } from '../../support/process.js';
import { until } from '../../support/wait.js';

const MODULE = resolve('examples/hello/definitions.ts');
const logger = createLogger({ name: 'test', level: 'warn' });
const root = mkdtempSync(join(tmpdir(), 'outpost-records-'));
const started: number[] = [];
after(() => {
  for (const pid of started) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(root, { recursive: true, force: true });
});

/** Spawns `node -e <code> [...args]` as a detached process group's leader; resolves with its record once it prints. */
async function startDetached(
  code: string,
  args: string[] = [],
  extra: Partial<ProcessRecord> = {},
): Promise<ProcessRecord> {
  const child = spawn(process.execPath, ['-e', code, ...args], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = child.pid!;
  started.push(pid);
  await new Promise((r) => child.stdout.once('data', r));
  child.stdout.destroy();
  child.unref();
  return { pid, pgid: pid, startTime: readProcStat(pid)!.startTime, spawnedAt: Date.now(), ...extra };
}

/** A detached process group (like a run worker), optionally ignoring SIGTERM; resolves once set up. */
function startGroup(ignoreTerm = false): Promise<ProcessRecord> {
  return startDetached(
    `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} setInterval(() => {}, 1000); console.log('ready')`,
  );
}

test('stopRecordedProcesses ends every recorded run worker (SIGTERM, then SIGKILL after the grace)', async () => {
  const dataDir = join(root, 'stop');
  const [polite, stubborn] = await Promise.all([startGroup(), startGroup(true)]);
  for (const [id, rec] of [
    ['run_a', polite],
    ['run_b', stubborn],
  ] as const) {
    recordRunProcess(runDir(dataDir, id), rec);
  }
  assert.deepEqual(
    listRecordedProcesses(dataDir)
      .map((p) => `${p.kind} ${p.id} ${p.record.pid}`)
      .sort(),
    [`run run_a ${polite.pid}`, `run run_b ${stubborn.pid}`],
  );
  const t0 = Date.now();
  const stopped = await stopRecordedProcesses(dataDir, 1_000);
  assert.equal(stopped.length, 2);
  await until('both gone', () => !alive(polite.pid) && !alive(stubborn.pid), 5_000);
  assert.ok(Date.now() - t0 >= 1_000, 'the stubborn one got its grace period before SIGKILL');
});

test('a record whose pid now names another process is never signalled', async () => {
  const dataDir = join(root, 'reuse');
  const stranger = await startGroup();
  recordRunProcess(runDir(dataDir, 'run_c'), { ...stranger, startTime: stranger.startTime - 1 });
  assert.deepEqual(await stopRecordedProcesses(dataDir, 200), []);
  assert.ok(alive(stranger.pid), 'a process we did not start is left alone');
});

test('idle standbys are recorded; a restarted agent ends those its predecessor left behind', async () => {
  const dataDir = join(root, 'standby');
  const first = new ProcessLauncher({ dataDir, logger, warmWorkers: 1 });
  first.prewarm({ location: 'hello', module: MODULE });
  await until('a ready standby', () => first.standbys.counts().ready === 1);
  const [pid] = first.standbys.pids();
  started.push(pid!);
  assert.deepEqual(
    listRecordedProcesses(dataDir).map((p) => [p.kind, p.record.pid]),
    [['standby', pid]],
  );
  // The agent is gone without retiring it (its channel is still open here, as if it were
  // still importing when the agent died): the next agent's pool ends it.
  const next = new ProcessLauncher({ dataDir, logger, warmWorkers: 1 });
  await until('the old standby gone', () => !alive(pid), 10_000);
  assert.deepEqual(listRecordedProcesses(dataDir), []);
  next.stop();
  first.stop();
});

/**
 * A detached group of two: a worker and one child in its group (a Dagster run worker and a step
 * process; or a sandbox's pid 1 and the worker, both showing `mark`). Each writes `<dir>/<who>`
 * when SIGTERMed and goes on running.
 */
function startTree(dir: string, marks: { parent: boolean; child: boolean }): Promise<ProcessRecord> {
  const onTerm = (who: string) =>
    `process.on('SIGTERM', () => require('fs').writeFileSync(${JSON.stringify(join(dir, who))}, ''));`;
  const childCode = `${onTerm('child')} setInterval(() => {}, 1000); process.send('ready');`;
  const parentCode = `${onTerm('parent')} const c = require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(childCode)}${marks.child ? ", 'mark-7f3'" : ''}], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] }); c.once('message', () => console.log('ready')); setInterval(() => {}, 1000);`;
  return startDetached(parentCode, marks.parent ? ['mark-7f3'] : [], { sigtermTo: ['mark-7f3'] });
}

test('a record with sigtermTo: SIGTERM reaches only the worker (the deepest marked process from the root down); SIGKILL the whole group', async () => {
  for (const [name, marks, only] of [
    ['worker', { parent: true, child: false }, 'parent'],
    ['sandboxed worker', { parent: true, child: true }, 'child'],
  ] as const) {
    const dir = mkdtempSync(join(root, 'term-'));
    const rec = await startTree(dir, marks);
    assert.equal(signalRecordedGroup(rec, 'SIGTERM'), true);
    await until(`${name}: the SIGTERM handled`, () => existsSync(join(dir, only)), 5_000);
    // A group signal reaches every member in the one kill(2): had it gone to the group, the
    // other member's handler would have written by now.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      ['parent', 'child'].filter((who) => existsSync(join(dir, who))),
      [only],
      `${name}: SIGTERM went to one member only`,
    );
    assert.equal(signalRecordedGroup(rec, 'SIGKILL'), true);
    await until(`${name}: the group gone`, () => !alive(rec.pid), 5_000);
  }
});

test('a record with sigtermTo whose root shows no mark (gone, or not the worker): SIGTERM goes to the group', async () => {
  const dir = mkdtempSync(join(root, 'term-'));
  const rec = await startTree(dir, { parent: false, child: false });
  assert.equal(signalRecordedGroup(rec, 'SIGTERM'), true);
  await until('both SIGTERMed', () => existsSync(join(dir, 'parent')) && existsSync(join(dir, 'child')), 5_000);
  assert.equal(signalRecordedGroup(rec, 'SIGKILL'), true);
  await until('the group gone', () => !alive(rec.pid), 5_000);
});

test("a record with sigtermTo: a fork of the worker (the same command line, e.g. a multiprocessing pool under Python's default fork) is not taken for it", async () => {
  // The worker re-runs its own exact argv as its child (as fork() leaves it); only the env tells
  // the copy not to fork again. Only the worker (the root) may get the SIGTERM.
  const dir = mkdtempSync(join(root, 'fork-'));
  const onTerm = (who: string) =>
    `process.on('SIGTERM', () => require('fs').writeFileSync(require('path').join(${JSON.stringify(dir)}, ${who}), ''));`;
  const code =
    `const copy = process.env.FORKED === '1'; ${onTerm("copy ? 'child' : 'parent'")} setInterval(() => {}, 1000);` +
    ` if (copy) process.send('ready'); else { const c = require('child_process').spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env: { ...process.env, FORKED: '1' }, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] }); c.once('message', () => console.log('ready')); }`;
  const rec = await startDetached(code, ['mark-7f3'], { sigtermTo: ['mark-7f3'] });
  assert.equal(signalRecordedGroup(rec, 'SIGTERM'), true);
  await until('a SIGTERM handled', () => existsSync(join(dir, 'parent')) || existsSync(join(dir, 'child')), 5_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(
    ['parent', 'child'].filter((who) => existsSync(join(dir, who))),
    ['parent'],
    'the SIGTERM reached the worker, not its fork',
  );
  assert.equal(signalRecordedGroup(rec, 'SIGKILL'), true);
  await until('the group gone', () => !alive(rec.pid), 5_000);
});
