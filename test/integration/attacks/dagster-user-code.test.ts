// Attack: Dagster user code looks for the agent's credentials (issue 14 with issue 13's promise).
// A Dagster code server runs user code at import and on every schedule/sensor evaluation, and a
// run worker runs it in every step; none of them may reach the agent's token file, the admin's
// user.token beside it, the agent's data dir (another run's spool, another location's socket
// dir), or the agent's own /proc entries. The real CodeServerManager spawns a real `dagster api
// grpc` for test/fixtures/dagster/locations/credential_probe.py and the real ProcessLauncher a
// real `dagster api execute_run`; the probe reports what it saw. Run once per isolation mode:
// `bubblewrap` must hide everything; `none` hides only the environment, and the probe finding
// the token file there shows the probe can find what it looks for.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CodeServerManager } from '../../../src/agent/code-server-manager.js';
import { DagsterCodeLocation } from '../../../src/agent/dagster/dagster-code-location.js';
import { ProcessLauncher } from '../../../src/agent/launchers/process-launcher.js';
import {
  bubblewrapIsolation,
  bubblewrapUsable,
  noIsolation,
  type Isolation,
} from '../../../src/agent/launchers/sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import { childPids } from '../../../src/agent/launchers/proc.js';
import { LocationSnapshotSchema } from '../../../src/shared/location-snapshot.js';
import {
  LOCATIONS_DIR,
  RecordingControlPlane,
  dagsterManager,
  isAlive,
  skip,
  until,
} from '../dagster/dagster-manager-harness.js';

if (skip) console.log(`# skipping the Dagster user-code attack: ${skip}`);

interface ProbeReport {
  found: Array<{ where: string; token: string }>;
  files: string[];
  pids: number[];
  outpostEnv?: string[];
  wrote?: string[];
  searched: { files: number; procs: number; envVars: number };
}

const AGENT_TOKEN = 'opa_' + 'A'.repeat(43);
const ADMIN_TOKEN = 'opu_' + 'B'.repeat(43);
const OTHER_SPOOL_SECRET = 'ops_other_run_spool_' + 'C'.repeat(20);
const OTHER_SOCKET_SECRET = 'ops_other_location_socket_' + 'D'.repeat(20);
const OTHER_ARTIFACT_SECRET = 'ops_other_location_asset_' + 'E'.repeat(20);
const logger = createLogger({ name: 'test', level: 'silent' });

function parse(text: string, marker: string): ProbeReport {
  const at = text.indexOf(marker);
  assert.ok(at >= 0, `no ${marker} in: ${text.slice(0, 500)}`);
  const line = text.slice(at + marker.length + 1).split('\n')[0]!;
  return JSON.parse(line) as ProbeReport;
}

function descendants(pid: number): number[] {
  return childPids(pid).flatMap((c) => [c, ...descendants(c)]);
}

const bwrap = bubblewrapUsable();
for (const mode of ['bubblewrap', 'none'] as const) {
  const why = skip || (mode === 'bubblewrap' && !bwrap.ok ? `bubblewrap unusable here: ${bwrap.why}` : false);
  if (why && mode === 'bubblewrap' && !skip) console.log(`# skipping the bubblewrap case: ${why}`);
  describe(`attack: Dagster user code searches for credentials (isolation ${mode})`, { skip: why }, () => {
    let home: string;
    let dataDir: string;
    let tokenFile: string;
    let isolation: Isolation;
    let manager: CodeServerManager;
    let sleeper: ChildProcess;
    const cp = new RecordingControlPlane();

    before(async () => {
      // Outside /tmp (shared with the sandbox): only the agent's own hiding protects it.
      mkdirSync('/var/tmp', { recursive: true });
      home = mkdtempSync('/var/tmp/outpost-dg-attack-');
      dataDir = join(home, 'agent');
      tokenFile = join(home, 'agent.token');
      writeFileSync(tokenFile, `${AGENT_TOKEN}\n`, { mode: 0o600 });
      writeFileSync(join(home, 'user.token'), `${ADMIN_TOKEN}\n`, { mode: 0o600 });
      // Another run's spool and another location's socket dir, holding secrets of their own.
      mkdirSync(join(dataDir, 'runs', 'other-run', 'spool'), { recursive: true });
      writeFileSync(
        join(dataDir, 'runs', 'other-run', 'spool', 'events.jsonl'),
        `{"message":"${OTHER_SPOOL_SECRET}"}\n`,
      );
      mkdirSync(join(dataDir, 'dagster-sockets', 'other-location'), { recursive: true });
      writeFileSync(join(dataDir, 'dagster-sockets', 'other-location', 'planted'), OTHER_SOCKET_SECRET);
      mkdirSync(join(dataDir, 'artifacts', 'other-location', 'storage'), { recursive: true, mode: 0o700 });
      writeFileSync(join(dataDir, 'artifacts', 'other-location', 'storage', 'raw'), OTHER_ARTIFACT_SECRET);
      // Stands for the agent process: its token file on argv, its token in its environment.
      sleeper = spawn('sh', ['-c', 'sleep 600; :', 'agent', '--token-file', tokenFile], {
        env: { PATH: process.env.PATH, OUTPOST_AGENT_TOKEN: AGENT_TOKEN },
        stdio: 'ignore',
      });
      isolation =
        mode === 'none'
          ? noIsolation
          : bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [dataDir, home], hideFiles: [tokenFile] });
      manager = dagsterManager(cp, {
        isolation,
        dataDir,
        // The agent's environment: its token under two names, the admin's in the CLI's variable.
        env: {
          ...process.env,
          OUTPOST_AGENT_TOKEN: AGENT_TOKEN,
          OUTPOST_TOKEN: ADMIN_TOKEN,
          OUTPOST_AGENT_TOKEN_FILE: tokenFile,
        },
        secrets: [AGENT_TOKEN],
      });
      cp.set('probe', 1, { pythonFile: 'credential_probe.py', workingDirectory: LOCATIONS_DIR }, probeEnv());
      await manager.refresh();
    });
    after(async () => {
      await manager?.stop();
      sleeper?.kill('SIGKILL');
      if (home) rmSync(home, { recursive: true, force: true });
    });

    const otherEvents = (): string => join(dataDir, 'runs', 'other-run', 'spool', 'events.jsonl');
    const probeEnv = (): Record<string, string> => ({ PROBE_PATHS: home, PROBE_WRITE: otherEvents() });

    /** What each mode promises about one report. */
    function check(where: string, r: ProbeReport, own: string[] = []): void {
      assert.ok(r.searched.procs > 0 && r.searched.envVars > 0, `${where}: the probe searched nothing`);
      // The environment rule holds in both modes.
      const inEnv = r.found.filter((f) => f.where.startsWith('env '));
      assert.deepEqual(inEnv, [], `${where}: a token in user code's own environment`);
      assert.deepEqual(
        (r.outpostEnv ?? []).filter((k) => /TOKEN/i.test(k)),
        [],
        `${where}: an OUTPOST_*TOKEN* variable`,
      );
      if (mode === 'none') {
        // Nothing hides the files: the probe finds the token file (so it can find things).
        assert.ok(
          r.found.some((f) => f.token === AGENT_TOKEN),
          `${where}: without isolation the probe should see the token file: ${JSON.stringify(r.found)}`,
        );
        return;
      }
      assert.deepEqual(r.found, [], `${where}: user code found secrets`);
      // A write to another run's spool lands, at most, in the sandbox's own tmpfs.
      assert.doesNotMatch(readFileSync(otherEvents(), 'utf8'), /RUN_SUCCESS/, `${where}: wrote another run's spool`);
      const foreign = r.files.filter((f) => !own.some((o) => f.startsWith(`${o}/`)));
      assert.deepEqual(foreign, [], `${where}: user code read the agent's files`);
      assert.ok(!r.pids.includes(sleeper.pid!) && !r.pids.includes(process.pid), `${where}: it sees the agent's pids`);
    }

    test('at import and in a sensor evaluation, the code server sees no credential', async () => {
      assert.deepEqual(await manager.settled('probe', 1, 120_000), { status: 'LOADED' });
      const snap = LocationSnapshotSchema.parse(cp.last('probe')!.snapshot);
      check(
        'code server at import',
        parse(snap.jobs.find((j) => j.name === 'probe_job')!.description, 'PROBE_AT_IMPORT'),
      );
      const port = new DagsterCodeLocation(manager, { logger });
      const tick = await port.evaluateSensor({ location: 'probe', sensor: 'probe_sensor', dryRun: true });
      check('code server in a sensor', parse(tick.skipReason ?? '', 'PROBE_IN_SENSOR'));
    });

    test('in a run worker step, nothing but the run’s own files is readable', async () => {
      const target = manager.dagsterTarget('probe');
      assert.ok(target, 'the probe location is loaded');
      const launcher = new ProcessLauncher({
        dataDir,
        isolation,
        logger,
        env: {
          ...process.env,
          OUTPOST_AGENT_TOKEN: AGENT_TOKEN,
          OUTPOST_TOKEN: ADMIN_TOKEN,
          OUTPOST_AGENT_TOKEN_FILE: tokenFile,
        },
        secrets: [AGENT_TOKEN],
      });
      const runId = `dg_probe_${mode}`;
      await launcher.launch({
        runId,
        location: 'probe',
        job: 'probe_job',
        runConfig: {},
        module: '',
        dagster: target,
        env: probeEnv(),
      });
      await until('the probe run to exit', async () => !(await launcher.isAlive(runId)), 120_000);
      const stdout = join(launcher.spoolDir(runId), SPOOL_FILES.stdout);
      const text = existsSync(stdout) ? readFileSync(stdout, 'utf8') : '';
      const stderr = readFileSync(join(launcher.spoolDir(runId), SPOOL_FILES.stderr), 'utf8');
      assert.match(text, /PROBE_IN_RUN/, `the run printed no report; stderr: ${stderr.slice(-2000)}`);
      check('run step', parse(text, 'PROBE_IN_RUN'), [launcher.runDir(runId), join(dataDir, 'artifacts', 'probe')]);
      // What the agent wrote for the worker: no credential, owner-only files in owner-only dirs.
      const dir = launcher.runDir(runId);
      const home = join(dir, 'dagster_home');
      for (const d of [
        dir,
        launcher.spoolDir(runId),
        home,
        join(dataDir, 'artifacts'),
        join(dataDir, 'artifacts', 'probe'),
      ]) {
        assert.equal(statSync(d).mode & 0o777, 0o700, d);
      }
      for (const f of ['dagster.yaml', 'run.json']) {
        assert.equal(statSync(join(home, f)).mode & 0o777, 0o600, f);
        const body = readFileSync(join(home, f), 'utf8');
        assert.ok(!body.includes(AGENT_TOKEN) && !body.includes(ADMIN_TOKEN) && !body.includes(tokenFile), f);
      }
    });
    test('the socket is in a private directory of its own, and stop leaves no process', async () => {
      const server = await manager.dagsterServer('probe', 60_000);
      // Another local user can neither connect to nor replace the server's socket.
      const own = dirname(server.socketPath);
      assert.equal(statSync(own).mode & 0o777, 0o700, 'the server socket dir');
      assert.equal(statSync(dirname(own)).mode & 0o777, 0o700, 'the socket root');
      assert.equal(dirname(own), join(dataDir, 'dagster-sockets'), 'the root is hidden with the data dir');
      const outer = server.child.pid!;
      const tree = [outer, ...descendants(outer)];
      if (mode === 'bubblewrap') assert.ok(tree.length >= 3, `bwrap → bwrap → python: ${tree.join(' ')}`);
      await server.stop();
      await until('the server tree to end', () => tree.every((p) => !isAlive(p)), 15_000);
      assert.equal(existsSync(own), false, 'the socket dir is removed');
    });
  });
}
