// A chatty run fills the filesystem of the agent's data dir (its spools): here a 1 MiB tmpfs
// this file mounts and unmounts (root only; skipped otherwise). The real run worker cannot write
// its events, a terminal one included. Before: it died with exit code 1, a torn last line and no
// word anywhere, and the run failed as "the run worker exited with code 1 without a terminal
// event". Now the worker exits with SPOOL_FULL_EXIT_CODE and the agent ends the run with
// OUTPOST_ERR_RUN_SPOOL_DISK_FULL, naming the spool and what to do, in the run and in its log.
// A scripted control plane, the agent's real run activities and ProcessLauncher, a real worker.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { type LaunchOutcome, type SuperviseResult } from '../../../activities/index.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import { capturedLogger } from '../../support/captured-log.js';
import { startHelloStack, type ScriptedStack } from '../../support/scripted-agent.js';
import { runActivities } from '../../support/run-activities.js';

/** Far more than 1 MiB of LOG events (~120 bytes each). */
const EVENTS = 100_000;

const mountPoint = mkdtempSync(join(tmpdir(), 'outpost-spool-full-'));
const mounted =
  process.getuid?.() === 0 &&
  spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mountPoint]).status === 0;

describe(
  'the agent data dir filesystem fills up during a run',
  { skip: mounted ? false : 'needs root to mount a tmpfs' },
  () => {
    let s: ScriptedStack;
    before(async () => {
      s = await startHelloStack();
    });
    after(async () => {
      await s?.close();
      if (mounted) spawnSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    });

    test('the run fails with RUN_SPOOL_DISK_FULL, and the agent log says so', async () => {
      const { logger, lines } = capturedLogger('agent', 'warn');
      const launcher = new ProcessLauncher({ dataDir: join(mountPoint, 'agent'), logger, warmWorkers: 0 });
      const activities = runActivities(s, { launcher, hostTaskQueue: 'spool-full', supervisePollMs: 100, logger });
      try {
        const runId = await s.launch('chatty', { events: EVENTS });
        await s.claimLaunch(runId);
        const env = new MockActivityEnvironment();
        const payload = { runId, location: 'hello', job: 'chatty', runConfig: { events: EVENTS }, tags: {} };
        const outcome = await env.run<[], LaunchOutcome, () => Promise<LaunchOutcome>>(() =>
          activities.launchRun(payload),
        );
        assert.ok('launched' in outcome, JSON.stringify(outcome));
        const result = await env.run<[], SuperviseResult, () => Promise<SuperviseResult>>(() =>
          activities.superviseRun(outcome.launched, { withLaunch: true }),
        );
        assert.equal(result.status, 'FAILURE');
        assert.equal(launcher.exitStatus(runId)?.code, 3, 'the worker says its spool is full by its exit code');

        // The run's last events: its stored seqs run 1..N without gap, the agent's ending last.
        type Event = { seq: number; type: string; message: string | null; error: { name?: string } | null };
        const page = (after: number) =>
          s.user<{ run: { events: Event[] } }>(
            'query($id: ID!, $a: Int!) { run(id: $id) { events(afterSeq: $a, first: 1000) { seq type message error } } }',
            { id: runId, a: after },
          );
        let events: Event[] = [];
        for (let got = (await page(0)).run.events; got.length; got = (await page(got.at(-1)!.seq)).run.events)
          events = got;
        const end = events.at(-1)!;
        assert.equal(end.type, 'RUN_FAILURE');
        assert.equal(end.error?.name, 'OUTPOST_ERR_RUN_SPOOL_DISK_FULL');
        assert.match(end.message ?? '', /no space left/);
        assert.match(end.message ?? '', /--data-dir/, 'it says what to do');
        assert.ok(end.message?.includes(launcher.spoolDir(runId)), 'it names the spool');
        assert.ok(end.seq > 1000, `the events written before the disk filled are kept (${end.seq})`);

        const said = lines.map((l) => JSON.parse(l) as { msg: string; code?: string; hint?: string });
        const line = said.find((l) => l.code === 'OUTPOST_ERR_RUN_SPOOL_DISK_FULL');
        assert.ok(line, `the agent log names the cause: ${lines.join('')}`);
        assert.match(line.hint ?? '', /--data-dir/);
      } finally {
        launcher.stop();
      }
    });
  },
);
