// The agent's code-server manager hosting real Dagster code locations: a location loads with its
// snapshot; each bad input makes only its own location ERROR with the Python text; a killed server
// is restarted; a new version replaces the old one only once loaded.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CodeServerManager } from '../../../src/agent/code-server-manager.js';
import { LocationSnapshotSchema, type LocationSnapshot } from '../../../src/shared/location-snapshot.js';
import {
  EXAMPLE_DIR,
  LOCATIONS_DIR,
  RecordingControlPlane,
  dagsterManager,
  isAlive,
  python,
  skip,
  until,
} from './dagster-manager-harness.js';

if (skip) console.log(`# skipping Dagster code-server manager tests: ${skip}`);

const HANG_TIMEOUT_MS = 15_000;

describe('Dagster code servers in the code-server manager', { skip }, () => {
  const cp = new RecordingControlPlane();
  let manager: CodeServerManager;

  before(() => {
    // The default start bound: a healthy location loads within it however loaded the host is.
    manager = dagsterManager(cp);
  });
  after(async () => {
    await manager?.stop();
  });

  const pidOf = async (location: string): Promise<number> => (await manager.dagsterServer(location, 60_000)).child.pid!;

  test('a location loads: LOADED with its snapshot and the run launcher target', async () => {
    cp.set('example', 1, { pythonFile: 'definitions.py', workingDirectory: EXAMPLE_DIR });
    const t0 = performance.now();
    await manager.refresh();
    assert.deepEqual(await manager.settled('example', 1, 90_000), { status: 'LOADED' });
    console.log(`# Dagster location spawn → LOADED (snapshot reported): ${(performance.now() - t0).toFixed(0)} ms`);
    const report = cp.last('example')!;
    assert.equal(report.status, 'LOADED');
    const snap: LocationSnapshot = LocationSnapshotSchema.parse(report.snapshot);
    assert.equal(snap.kind, 'dagster');
    assert.match(snap.dagsterVersion ?? '', /^1\.(9|1[0-3])\.\d+/);
    const greeting = snap.jobs.find((j) => j.name === 'greeting_job')!;
    assert.deepEqual(
      greeting.ops.map((o) => [o.name, o.inputs.map((i) => i.fromOp)]),
      [
        ['greet', []],
        ['shout', ['greet']],
      ],
    );
    const ops = (greeting.configSchema as { properties: { ops: { properties: Record<string, unknown> } } }).properties
      .ops.properties;
    assert.ok(ops.greet && ops.shout, 'the config schema has both ops');
    assert.deepEqual(snap.schedules.map((s) => [s.name, s.job, s.cron, s.timezone]).sort(), [
      ['daily_job_schedule', 'daily_job', '0 0 * * *', 'UTC'],
      ['greeting_job_schedule', 'greeting_job', '0 2 * * *', 'UTC'],
    ]);
    assert.deepEqual(
      snap.sensors.map((s) => [s.name, s.job, s.minIntervalSeconds]),
      [['every_tick', 'greeting_job', 45]],
    );
    const kinds = Object.fromEntries(snap.partitions.map((p) => [p.name, p.kind]));
    assert.deepEqual(kinds, {
      paint_job_partition_set: 'static',
      daily_job_partition_set: 'timeWindow',
      multi_job_partition_set: 'multi',
      customer_job_partition_set: 'dynamic',
    });
    assert.deepEqual(snap.assets?.map((a) => [a.key, a.deps, a.groupName]).sort(), [
      ['doubled_numbers', ['raw_numbers'], 'numbers'],
      ['raw_numbers', [], 'numbers'],
    ]);
    const target = manager.dagsterTarget('example')!;
    assert.equal(target.locationName, 'example');
    assert.equal(target.repositoryName, '__repository__');
    assert.equal(target.workingDirectory, EXAMPLE_DIR);
    assert.equal(target.dagsterVersion, snap.dagsterVersion);
    assert.equal(target.codePointer.__class__, 'FileCodePointer');
    assert.ok(target.entryPoint.includes('dagster'));
    // Runs use the interpreter that was deployed (and checked by deploy policy), not a path the
    // server reports back.
    assert.equal(target.python, resolve(python!));
    assert.equal(manager.statuses().find((s) => s.location === 'example')?.status, 'LOADED');
  });

  test('each bad input makes only its own location ERROR, with the Python text', async () => {
    const healthyPid = await pidOf('example');
    const bad: Array<[string, Parameters<RecordingControlPlane['set']>[2], RegExp]> = [
      ['syntax', { pythonFile: 'syntax_error.py', workingDirectory: LOCATIONS_DIR }, /SyntaxError/],
      [
        'missing-module',
        { moduleName: 'no_such_module_xyz', workingDirectory: LOCATIONS_DIR },
        /No module named 'no_such_module_xyz'/,
      ],
      [
        'wrong-python',
        { python: '/nonexistent/bin/python3', pythonFile: 'sensors.py', workingDirectory: LOCATIONS_DIR },
        /cannot run the Dagster interpreter.*ENOENT/,
      ],
      [
        // Spawned in a missing cwd, Node's error would name the interpreter (`spawn … ENOENT`).
        'missing-dir',
        { pythonFile: 'sensors.py', workingDirectory: `${LOCATIONS_DIR}/no-such-dir` },
        /^(?!.*ENOENT).*the working directory \S+\/no-such-dir does not exist on this agent's host/s,
      ],
      [
        'no-dagster',
        { python: '/usr/bin/python3', pythonFile: 'sensors.py', workingDirectory: LOCATIONS_DIR },
        /No module named dagster/,
      ],
    ];
    for (const [name, spec] of bad) cp.set(name, 1, spec);
    cp.set('two-pointers', 1, { pythonFile: 'sensors.py', moduleName: 'sensors', workingDirectory: LOCATIONS_DIR });
    const t0 = performance.now();
    await manager.refresh();
    for (const [name, , expected] of bad) {
      const settled = await manager.settled(name, 1, 90_000);
      assert.equal(settled.status, 'ERROR', name);
      assert.match(settled.error ?? '', expected, `${name}: ${settled.error}`);
      assert.equal(cp.last(name)?.status, 'ERROR');
      assert.equal(cp.last(name)?.error, settled.error);
    }
    // Refused before anything is spawned (the spec itself is invalid).
    assert.equal(cp.last('two-pointers')?.status, 'ERROR');
    assert.match(cp.last('two-pointers')?.error ?? '', /exactly one of pythonFile, moduleName and packageName/);
    console.log(`# five bad locations settled ERROR in ${(performance.now() - t0).toFixed(0)} ms`);
    const syntax = manager.statuses().find((s) => s.location === 'syntax')!.error!;
    assert.match(syntax, /syntax_error\.py/, 'the stack tail names the file');
    assert.match(syntax, /^OUTPOST_ERR_USER_CODE_LOAD_FAILED: /, 'the code the user can look up comes first');
    // Nothing else moved: the healthy location kept its server and still answers.
    assert.equal(await pidOf('example'), healthyPid);
    assert.equal(manager.statuses().find((s) => s.location === 'example')?.status, 'LOADED');
    await (await manager.dagsterServer('example', 1_000)).checkHealth(5_000);
    // Load errors are not retried: no new LOADING report, no restart.
    const count = cp.reports.filter((r) => r.location === 'syntax').length;
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(cp.reports.filter((r) => r.location === 'syntax').length, count);
    cp.entries = cp.entries.filter((e) => e.name === 'example');
    await manager.refresh();
  });

  test('a location whose import never finishes is ERROR once its start bound passes; the others keep serving', async () => {
    // Its own manager with a short bound: the shared one keeps the default, so that the healthy
    // locations of this file are never held to 15 s on a loaded host.
    const hangCp = new RecordingControlPlane();
    const short = dagsterManager(hangCp, { dagster: { startTimeoutMs: HANG_TIMEOUT_MS } });
    try {
      hangCp.set('hangs', 1, { pythonFile: 'imports_forever.py', workingDirectory: LOCATIONS_DIR });
      await short.refresh();
      const settled = await short.settled('hangs', 1, HANG_TIMEOUT_MS + 60_000);
      assert.equal(settled.status, 'ERROR');
      assert.match(settled.error ?? '', /did not finish loading within 15000 ms/);
      assert.equal(hangCp.last('hangs')?.error, settled.error);
      await (await manager.dagsterServer('example', 1_000)).checkHealth(5_000);
    } finally {
      await short.stop();
    }
  });

  test('a file with several repositories is ERROR naming them; --attribute hosts one of them', async () => {
    cp.set('two-repos', 1, { pythonFile: 'two_repositories.py', workingDirectory: LOCATIONS_DIR });
    cp.set('second-repo', 1, {
      pythonFile: 'two_repositories.py',
      attribute: 'second_repo',
      workingDirectory: LOCATIONS_DIR,
    });
    await manager.refresh();
    const both = await manager.settled('two-repos', 1, 60_000);
    assert.equal(both.status, 'ERROR', 'hosting only the first repository would drop second_job unseen');
    assert.match(both.error ?? '', /defines 2 repositories \(first_repo, second_repo\)/);
    assert.match(both.error ?? '', /--attribute <name>/);
    assert.deepEqual(await manager.settled('second-repo', 1, 60_000), { status: 'LOADED' });
    const snap = LocationSnapshotSchema.parse(cp.last('second-repo')!.snapshot);
    assert.deepEqual(
      snap.jobs.map((j) => j.name),
      ['second_job'],
    );
    assert.equal(manager.dagsterTarget('second-repo')?.repositoryName, 'second_repo');
    cp.entries = cp.entries.filter((e) => e.name === 'example');
    await manager.refresh();
  });

  test('a SIGKILLed server is restarted and loads again', async () => {
    const pid = await pidOf('example');
    process.kill(pid, 'SIGKILL');
    await until('a new server for example', async () => {
      const s = manager.statuses().find((x) => x.location === 'example');
      if (s?.status !== 'LOADED') return false;
      const next = await pidOf('example').catch(() => pid);
      return next !== pid;
    });
    assert.ok(!isAlive(pid));
    await (await manager.dagsterServer('example', 1_000)).checkHealth(5_000);
  });

  test('a new version replaces the old server only once it has loaded; a broken one replaces nothing', async () => {
    cp.set('slow', 1, { pythonFile: 'slow_import.py', workingDirectory: LOCATIONS_DIR }, { SLOW_IMPORT_SECONDS: '0' });
    await manager.refresh();
    assert.equal((await manager.settled('slow', 1, 60_000)).status, 'LOADED');
    const v1 = await pidOf('slow');
    cp.set('slow', 2, { pythonFile: 'slow_import.py', workingDirectory: LOCATIONS_DIR }, { SLOW_IMPORT_SECONDS: '4' });
    await manager.refresh();
    // While version 2 imports, version 1 serves.
    await new Promise((r) => setTimeout(r, 1_500));
    const during = await manager.dagsterServer('slow', 1_000);
    assert.equal(during.child.pid, v1);
    assert.equal(during.version, 1);
    await during.checkHealth(5_000);
    assert.equal((await manager.settled('slow', 2, 60_000)).status, 'LOADED');
    const v2 = await manager.dagsterServer('slow', 1_000);
    assert.equal(v2.version, 2);
    assert.notEqual(v2.child.pid, v1);
    await until('version 1 stopped', () => !isAlive(v1), 10_000);
    // Version 3 does not load: ERROR is reported for it, version 2 keeps serving.
    cp.set('slow', 3, { pythonFile: 'syntax_error.py', workingDirectory: LOCATIONS_DIR });
    await manager.refresh();
    const v3 = await manager.settled('slow', 3, 60_000);
    assert.equal(v3.status, 'ERROR');
    assert.match(v3.error ?? '', /SyntaxError/);
    assert.deepEqual([cp.last('slow')?.version, cp.last('slow')?.status], [3, 'ERROR']);
    assert.ok(isAlive(v2.child.pid!));
    assert.equal((await manager.dagsterServer('slow', 1_000)).version, 2);
  });

  test('the manager stops its Dagster servers and their sockets on stop', async () => {
    const server = await manager.dagsterServer('example', 1_000);
    await manager.stop();
    assert.ok(!isAlive(server.child.pid!));
    assert.ok(python);
  });
});
