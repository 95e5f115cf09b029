// Real Dagster runs (`dagster api execute_run` workers of the venv the test runner builds) through
// Outpost's process launcher, for examples/dagster: the launch target comes from a real
// `dagster api grpc` (ListRepositories), the files the worker reads are written by TS, and the
// events land in the spool through python/outpost_dagster. No mock of Dagster anywhere.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DAGSTER_CONSOLE_LOG, artifactDirOf } from '../../../src/agent/dagster/dagster-run-files.js';
import { dagsterLaunchTarget } from '../../support/dagster-server.js';
import type { DagsterTarget } from '../../../src/shared/dagster-target.js';
import type { RunLaunchSpec } from '../../../src/agent/launchers/launcher.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { bubblewrapIsolation, bubblewrapUsable, noIsolation } from '../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES, type RunEvent } from '../../../src/shared/run-events.js';
import { spooledEvents as events } from '../../support/spool-events.js';

const python = process.env.OUTPOST_TEST_DAGSTER_PYTHON;
const skip = python
  ? false
  : (process.env.OUTPOST_TEST_DAGSTER_SKIP_REASON ??
    'OUTPOST_TEST_DAGSTER_PYTHON is not set: run through scripts/run-tests.ts, which builds the Dagster venv');
if (skip) console.log(`# skipping Dagster run tests: ${skip}`);

const EXAMPLE = resolve('examples', 'dagster');
const LOCATION = 'outpost_example';
const GRACE_MS = 10_000;
const logger = createLogger({ name: 'test', level: 'warn' });
const dataDir = mkdtempSync(join(tmpdir(), 'outpost-dagster-runs-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Each process's command line, state and kernel wait channel (a failure's diagnosis). */
function describeProcesses(pids: number[]): string {
  const read = (pid: number, file: string): string => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, 'utf8');
    } catch {
      return '?';
    }
  };
  return pids
    .map((pid) => {
      const state = /^State:\s*(.*)$/m.exec(read(pid, 'status'))?.[1] ?? '?';
      return `${pid} [${state}, wchan ${read(pid, 'wchan')}] ${read(pid, 'cmdline').split('\0').join(' ').slice(0, 200)}`;
    })
    .join(' | ');
}

const spoolText = (launcher: ProcessLauncher, runId: string, file: string): string => {
  const path = join(launcher.spoolDir(runId), file);
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
};

function assertGapFree(evs: RunEvent[]): void {
  assert.deepEqual(
    evs.map((e) => e.seq),
    evs.map((_, i) => i + 1),
  );
  const terminal = evs.findIndex((e) => ['RUN_SUCCESS', 'RUN_FAILURE', 'RUN_CANCELED'].includes(e.type));
  assert.equal(terminal, evs.length - 1, 'the terminal event is the last one');
}

async function finished(launcher: ProcessLauncher, runId: string): Promise<RunEvent[]> {
  await until(`run ${runId} to exit`, async () => !(await launcher.isAlive(runId)));
  await until(`run ${runId}'s group to empty`, () => launcher.groupMembers(runId).length === 0, 10_000);
  return events(launcher, runId);
}

// Once with plain processes, once with each worker in a bubblewrap sandbox (the same launcher
// path; the crash-only cases run once).
const bwrap = bubblewrapUsable();
for (const mode of ['none', 'bubblewrap'] as const) {
  describe(
    `Dagster runs through the process launcher (isolation ${mode})`,
    {
      skip: skip || (mode === 'bubblewrap' && !bwrap.ok ? `bubblewrap unusable here: ${bwrap.why}` : false),
    },
    () => {
      let target: DagsterTarget;
      let launcher: ProcessLauncher;
      const isolation = mode === 'none' ? noIsolation : bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir] });
      const only = mode === 'none' ? false : 'covered once, without a sandbox';
      const newLauncher = () => new ProcessLauncher({ dataDir, isolation, logger });
      const spec = (id: string, job: string, extra: Partial<RunLaunchSpec> = {}): RunLaunchSpec => ({
        runId: id,
        location: LOCATION,
        job,
        runConfig: {},
        module: '',
        dagster: target,
        ...extra,
      });

      before(async () => {
        // The launch target exactly as a code server reports it.
        target = await dagsterLaunchTarget({
          python: python!,
          pointer: { pythonFile: 'definitions.py' },
          workingDirectory: EXAMPLE,
          locationName: LOCATION,
        });
        launcher = newLauncher();
      });

      test('a two-op job with config: RUN_SUCCESS, gap-free seq, greeting as LOG, print only in stdout.log', async () => {
        const runId = `${mode}_dg_greeting`;
        const t0 = performance.now();
        const handle = await launcher.launch(
          spec(runId, 'greeting_job', {
            runConfig: { ops: { greet: { config: { name: 'world' } } } },
            tags: { team: 'data', 'dagster/run_key': 'k1' },
          }),
        );
        assert.equal(handle.adopted, false);
        await until('RUN_START', () => events(launcher, runId).some((e) => e.type === 'RUN_START'));
        const toStart = performance.now() - t0;
        const evs = await finished(launcher, runId);
        console.log(
          `# greeting_job: launch → RUN_START ${toStart.toFixed(0)} ms, → exit ${(performance.now() - t0).toFixed(0)} ms, ${evs.length} events`,
        );
        assert.deepEqual(launcher.exitStatus(runId), { code: 0, signal: null, known: true });
        assertGapFree(evs);
        assert.equal(evs.at(-1)?.type, 'RUN_SUCCESS');
        for (const step of ['greet', 'shout']) {
          const types = evs.filter((e) => e.stepKey === step).map((e) => e.type);
          assert.ok(types.indexOf('STEP_START') < types.indexOf('STEP_OUTPUT'), step);
          assert.ok(types.indexOf('STEP_OUTPUT') < types.indexOf('STEP_SUCCESS'), step);
        }
        assert.ok(evs.some((e) => e.type === 'LOG' && e.stepKey === 'greet' && e.message === 'hello world'));
        assert.ok(evs.some((e) => e.type === 'LOG' && e.stepKey === 'shout' && e.message === 'WORLD'));
        const engine = evs.filter((e) => e.type === 'ENGINE');
        assert.ok(engine.length > 0 && engine.every((e) => typeof e.data?.dagsterEventType === 'string'));
        // The op's print is user output, never an event.
        assert.match(spoolText(launcher, runId, SPOOL_FILES.stdout), /greet printed world/);
        assert.ok(!evs.some((e) => (e.message ?? '').includes('greet printed')));
        // Dagster's console echo went to its own file, not to the user's stderr.
        assert.doesNotMatch(spoolText(launcher, runId, SPOOL_FILES.stderr), /STEP_START|RUN_SUCCESS|hello world/);
        assert.match(spoolText(launcher, runId, DAGSTER_CONSOLE_LOG), /hello world/);
        for (const f of [SPOOL_FILES.stdout, SPOOL_FILES.stderr]) {
          assert.equal(statSync(join(launcher.spoolDir(runId), f)).mode & 0o777, 0o600, f);
        }
        // The run's tags reached the DagsterRun the worker executed.
        const run = readFileSync(join(launcher.runDir(runId), 'dagster_home', 'run.json'), 'utf8');
        assert.match(run, /"dagster\/run_key": "k1"/);
      });

      test('a failing op: STEP_FAILURE with its error, then RUN_FAILURE, exit code non-zero', async () => {
        const runId = `${mode}_dg_failing`;
        await launcher.launch(spec(runId, 'failing_job'));
        const evs = await finished(launcher, runId);
        assertGapFree(evs);
        const failure = evs.find((e) => e.type === 'STEP_FAILURE');
        assert.equal(failure?.stepKey, 'fail_on_purpose');
        assert.equal(failure?.error?.name, 'Failure');
        assert.match(failure?.error?.message ?? '', /intentional failure/);
        assert.equal(evs.at(-1)?.type, 'RUN_FAILURE');
        assert.notEqual(launcher.exitStatus(runId)?.code, 0);
        assert.match(spoolText(launcher, runId, SPOOL_FILES.stdout), /about to fail on purpose/);
      });

      test('requestTermination mid-step: STEP_CANCELED and RUN_CANCELED within the grace, group empty', async () => {
        const runId = `${mode}_dg_terminate`;
        await launcher.launch(
          spec(runId, 'slow_job', {
            runConfig: { ops: { sleep_a_while: { config: { seconds: 120.0 } } } },
          }),
        );
        await until('the slow step to log', () =>
          events(launcher, runId).some((e) => e.type === 'LOG' && e.stepKey === 'sleep_a_while'),
        );
        const t0 = performance.now();
        assert.equal(await launcher.requestTermination(runId), true);
        // The same grace the terminate activity gives before SIGKILL; SIGKILL here would fail the test.
        await until('the worker group to empty', () => launcher.groupMembers(runId).length === 0, GRACE_MS).catch(
          (err: Error) => {
            // Seen once in CI (a quiet host; ~1 s otherwise): say what was still there and where it waited.
            throw new Error(`${err.message}; still running: ${describeProcesses(launcher.groupMembers(runId))}`);
          },
        );
        console.log(`# slow_job: terminate → group empty ${(performance.now() - t0).toFixed(0)} ms`);
        const evs = events(launcher, runId);
        assertGapFree(evs);
        assert.equal(evs.at(-1)?.type, 'RUN_CANCELED');
        const canceled = evs.find((e) => e.type === 'STEP_CANCELED');
        assert.equal(canceled?.stepKey, 'sleep_a_while');
        assert.equal(canceled?.error, undefined);
        // Termination is Dagster's own: only the run worker got SIGTERM, and it ended the step
        // through the step's termination event, after saying so. A SIGTERM to the whole group
        // (the step process too) raced that hand-off and once left the worker waiting for good.
        const forwarded = evs.findIndex(
          (e) => e.type === 'ENGINE' && /received termination signal/.test(e.message ?? ''),
        );
        assert.ok(forwarded >= 0 && forwarded < evs.indexOf(canceled), 'the worker forwarded the termination');
        assert.ok(!evs.some((e) => e.type === 'STEP_FAILURE' || e.type === 'RUN_FAILURE'));
        // The group is empty once its members are zombies; the launcher hears of the exit when
        // Node reaps the child (and, under bubblewrap, when bwrap itself has exited) moments later.
        await until('the launcher to see the worker exit', async () => !(await launcher.isAlive(runId)), 10_000);
      });

      test(
        'terminate requested before the worker starts executing: it runs nothing and fails nothing (RUN_CANCELED path)',
        { skip: only },
        async () => {
          // The terminate marker is there before the worker's storage first reads the run (its
          // SIGTERM found no process yet): Dagster must see the run CANCELED, not CANCELING,
          // or it reports "started a new run worker while ... CANCELING" and RUN_FAILURE.
          const runId = `${mode}_dg_terminate_early`;
          await launcher.launch(
            spec(runId, 'slow_job', { runConfig: { ops: { sleep_a_while: { config: { seconds: 120.0 } } } } }),
          );
          writeFileSync(join(launcher.spoolDir(runId), SPOOL_FILES.terminated), JSON.stringify({ at: Date.now() }));
          const evs = await finished(launcher, runId);
          assert.deepEqual(
            evs.map((e) => e.seq),
            evs.map((_, i) => i + 1),
          );
          const types = evs.map((e) => e.type);
          assert.ok(!types.includes('RUN_FAILURE'), JSON.stringify(evs.map((e) => [e.type, e.message])));
          assert.ok(!types.includes('STEP_START'), JSON.stringify(types));
          // No terminal event of its own: superviseRun, terminating, appends ENGINE + RUN_CANCELED.
          assert.ok(!types.some((t) => ['RUN_SUCCESS', 'RUN_CANCELED'].includes(t)), JSON.stringify(types));
        },
      );

      test(
        'SIGKILL of the worker: no terminal event; the worker reads dead with its signal (RUN_FAILURE path)',
        { skip: only },
        async () => {
          const runId = `${mode}_dg_sigkill`;
          await launcher.launch(
            spec(runId, 'slow_job', {
              runConfig: { ops: { sleep_a_while: { config: { seconds: 120.0 } } } },
            }),
          );
          await until('the slow step to log', () => events(launcher, runId).some((e) => e.type === 'LOG'));
          assert.equal(await launcher.signal(runId, 'SIGKILL'), true);
          await until('the worker group to empty', () => launcher.groupMembers(runId).length === 0, GRACE_MS).catch(
            (err: Error) => {
              // On failure, say what was still there and where it waited.
              throw new Error(`${err.message}; still running: ${describeProcesses(launcher.groupMembers(runId))}`);
            },
          );
          const evs = events(launcher, runId);
          assert.deepEqual(
            evs.map((e) => e.seq),
            evs.map((_, i) => i + 1),
          );
          // What superviseRun acts on: gone, killed, no terminal event → it appends ENGINE + RUN_FAILURE.
          assert.ok(!evs.some((e) => ['RUN_SUCCESS', 'RUN_FAILURE', 'RUN_CANCELED'].includes(e.type)));
          await until('exit status', () => launcher.exitStatus(runId) !== undefined, 5_000);
          assert.deepEqual(launcher.exitStatus(runId), { code: null, signal: 'SIGKILL', known: true });
        },
      );

      test('assets: both materialized, then only the downstream one, which loads its upstream from the artifact dir', async () => {
        const both = `${mode}_dg_assets_both`;
        await launcher.launch(spec(both, 'numbers_job'));
        const first = await finished(launcher, both);
        assertGapFree(first);
        assert.equal(first.at(-1)?.type, 'RUN_SUCCESS');
        const materialized = (evs: RunEvent[]) =>
          evs
            .filter((e) => e.type === 'ASSET_MATERIALIZATION')
            .map((e) => e.assetKey)
            .sort();
        assert.deepEqual(materialized(first), ['doubled_numbers', 'raw_numbers']);
        assert.ok(existsSync(join(artifactDirOf(dataDir, LOCATION), 'storage', 'raw_numbers')));

        const downstream = `${mode}_dg_assets_downstream`;
        await launcher.launch(spec(downstream, '__ASSET_JOB', { assetSelection: ['doubled_numbers'] }));
        const second = await finished(launcher, downstream);
        assertGapFree(second);
        assert.equal(second.at(-1)?.type, 'RUN_SUCCESS', JSON.stringify(second.at(-1)));
        assert.deepEqual(materialized(second), ['doubled_numbers']);
        assert.ok(!second.some((e) => e.stepKey === 'raw_numbers'), 'the upstream asset did not run again');

        // The same selection in a location whose artifact dir is empty fails: the load came from there.
        const fresh = `${mode}_dg_assets_fresh`;
        await launcher.launch({
          ...spec(fresh, '__ASSET_JOB', { assetSelection: ['doubled_numbers'] }),
          location: 'other_loc',
        });
        const third = await finished(launcher, fresh);
        assert.equal(third.at(-1)?.type, 'RUN_FAILURE');
      });

      test(
        'a restarted agent adopts the running Dagster worker; a crash before the record is recovered from /proc',
        { skip: only },
        async () => {
          const runId = `${mode}_dg_adopt`;
          const first = await launcher.launch(
            spec(runId, 'slow_job', {
              runConfig: { ops: { sleep_a_while: { config: { seconds: 3.0 } } } },
            }),
          );
          await until('RUN_START', () => events(launcher, runId).some((e) => e.type === 'RUN_START'));
          const restarted = newLauncher();
          const adopted = await restarted.launch(spec(runId, 'slow_job'));
          assert.equal(adopted.adopted, true);
          assert.equal(adopted.ref, first.ref);
          assert.equal(await restarted.isAlive(runId), true);
          const evs = await finished(restarted, runId);
          assertGapFree(evs);
          assert.equal(evs.at(-1)?.type, 'RUN_SUCCESS');
          assert.equal(restarted.spawnCount(runId), 1);

          // The crash window: intent.json written, the worker spawned, no process.json / spawns.log.
          const crashed = `${mode}_dg_adopt_crash`;
          const h = await launcher.launch(
            spec(crashed, 'slow_job', {
              runConfig: { ops: { sleep_a_while: { config: { seconds: 3.0 } } } },
            }),
          );
          for (const f of ['process.json', 'spawns.log']) rmSync(join(launcher.runDir(crashed), f));
          const again = newLauncher();
          const recovered = await again.launch(spec(crashed, 'slow_job'));
          assert.equal(recovered.adopted, true);
          assert.equal(recovered.ref, h.ref, 'the same worker, found by its ExecuteRunArgs in /proc');
          assert.equal(again.spawnCount(crashed), 1);
          const evs2 = await finished(again, crashed);
          assert.equal(evs2.at(-1)?.type, 'RUN_SUCCESS');
        },
      );
    },
  );
}
