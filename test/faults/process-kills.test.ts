// kill -9 of every process but the agent in a real Outpost system, one case after another on
// one system (support/fault-system.ts): a dedicated Temporal dev server (SQLite file, fixed
// port, restartable), `outpost control-plane` (file SQLite, restartable on the same DB and
// port, 1 MiB log cap, 10 s leases) and `outpost agent`, all child processes. Cases: kill -9 a
// run worker from outside, fill a run's log cap, kill -9 the control plane mid-stream, stop
// the control plane for 30 s, kill -9 the Temporal dev server, kill -9 the code servers mid-
// evaluation. Each prints what it did and checks its runs (support/checks.ts): right terminal
// status, contiguous seqs equal to the spool's, spawned once, stored stdout identical to the
// spool. The agent is killed at the five moments in agent-kills.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkRun, launch, runEvents, runStatus, storedStdout, waitTerminal } from './support/checks.js';
import { FaultSystem } from './support/fault-system.js';
import { readProcessRecord, runDir } from '../../src/agent/launchers/run-records.js';
import type { AgentProcess } from '../support/outpost-processes.js';
import { kill9 } from '../support/process.js';
import { sleep, until } from '../support/wait.js';

const LOG_CAP = 1024 * 1024;
const CHATTY_EVENTS = 2_000;

describe('fault injection: kill -9 and restarts', () => {
  const sys = new FaultSystem({
    controlPlaneArgs: ['--compute-log-cap-bytes', String(LOG_CAP), '--lease-ms', '10000', '--no-daemon'],
    locations: {
      hello: resolve('examples/hello/definitions.ts'),
      bench: resolve('bench/fixtures/bench-location.ts'),
    },
  });
  const { cp } = sys;
  let agent: AgentProcess;

  before(async () => {
    await sys.start();
    agent = sys.agent;
  });
  after(() => sys.stop());

  test('kill -9 a run worker from outside: the run fails with the signal, nothing else lost', async () => {
    const victim = await launch(cp, 'sleepy', { seconds: 60 });
    const bystander = await launch(cp, 'chatty', { events: CHATTY_EVENTS });
    await until('victim STARTED', async () => (await runStatus(cp, victim)) === 'STARTED');
    const rec = readProcessRecord(runDir(agent.opts.dataDir, victim))!;
    process.kill(-rec.pid, 'SIGKILL');
    console.log(`run worker: sent SIGKILL to process group ${rec.pid} of run ${victim} once it was STARTED`);
    await waitTerminal(cp, [victim, bystander]);
    console.log('run worker:', await checkRun(cp, agent, victim, { status: 'FAILURE' }));
    const engine = (await runEvents(cp, victim)).filter((e) => e.type === 'ENGINE').map((e) => e.message ?? '');
    assert.ok(
      engine.some((m) => /SIGKILL|signal 9|signal/i.test(m)),
      `an engine event names the signal: ${engine.join(' | ')}`,
    );
    console.log(
      'run worker: bystander',
      await checkRun(cp, agent, bystander, { status: 'SUCCESS', userEvents: CHATTY_EVENTS + 5 }),
    );
  });

  test('fill a run log cap: truncation marker visible, the run still finishes', async () => {
    const id = await launch(cp, 'firehose', { mb: 3 }, 'bench');
    await waitTerminal(cp, [id]);
    assert.equal(await runStatus(cp, id), 'SUCCESS');
    const stored = await until(
      'logs shipped',
      async () => {
        const s = await storedStdout(cp, id);
        return s.truncated ? s : undefined;
      },
      60_000,
      250,
    );
    assert.match(stored.data, /compute logs truncated/);
    const spool = readFileSync(agent.spoolFile(id, 'stdout.log'), 'utf8');
    assert.equal(spool.length, 3 * 1024 * 1024, 'the spool keeps everything');
    assert.ok(stored.data.startsWith(spool.slice(0, LOG_CAP)), 'stored bytes up to the cap are the spool bytes');
    console.log(
      `log cap: run ${id} wrote 3 MiB, stored ${LOG_CAP} bytes + marker, status SUCCESS, spawned ${agent.spawnCount(id)}`,
    );
    assert.equal(agent.spawnCount(id), 1);
  });

  test('kill -9 the control plane mid-stream, restart on the same DB and port', async () => {
    const ids = [await launch(cp, 'chatty', { events: 20_000 }), await launch(cp, 'chatty', { events: CHATTY_EVENTS })];
    await until('events streaming', async () => (await runEvents(cp, ids[0]!)).length > 100, 60_000, 50);
    await cp.kill9();
    console.log(
      `control plane: SIGKILL while run ${ids[0]} was streaming events; restart after 1 s on port ${cp.port}`,
    );
    await sleep(1_000);
    await cp.start();
    await waitTerminal(cp, ids);
    console.log('control plane:', await checkRun(cp, agent, ids[0]!, { status: 'SUCCESS', userEvents: 20_005 }));
    console.log(
      'control plane:',
      await checkRun(cp, agent, ids[1]!, { status: 'SUCCESS', userEvents: CHATTY_EVENTS + 5 }),
    );
  });

  test('stop the control plane for 30 s, restart it: the agent backs off and recovers', async () => {
    const ids = [await launch(cp, 'sleepy', { seconds: 3 }), await launch(cp, 'chatty', { events: CHATTY_EVENTS })];
    await until(
      'a run STARTED',
      async () => (await Promise.all(ids.map((i) => runStatus(cp, i)))).includes('STARTED'),
      60_000,
      50,
    );
    await cp.stop();
    console.log('control plane down: stopped (SIGTERM) with runs in flight; down for 30 s');
    await sleep(30_000);
    assert.ok(agent.child && agent.child.exitCode === null, 'the agent stayed up while the control plane was away');
    await cp.start();
    const late = await launch(cp, 'hello', {});
    await waitTerminal(cp, [...ids, late]);
    for (const id of [...ids, late])
      console.log('control plane down:', await checkRun(cp, agent, id, { status: 'SUCCESS' }));
  });

  test('kill -9 the Temporal dev server mid-run and restart it on the same DB and port', async () => {
    const ids = [await launch(cp, 'chatty', { events: CHATTY_EVENTS }), await launch(cp, 'sleepy', { seconds: 4 })];
    await until(
      'runs STARTED',
      async () =>
        (await Promise.all(ids.map((i) => runStatus(cp, i)))).every((s) => s === 'STARTED' || s === 'SUCCESS'),
      60_000,
      50,
    );
    await kill9(sys.temporal.process);
    console.log(
      `temporal: SIGKILL to the dev server with 2 runs STARTED; restart on port ${sys.temporalPortNumber} after 1 s`,
    );
    await sleep(1_000);
    await sys.startTemporal();
    await waitTerminal(cp, ids);
    console.log('temporal:', await checkRun(cp, agent, ids[0]!, { status: 'SUCCESS', userEvents: CHATTY_EVENTS + 5 }));
    console.log('temporal:', await checkRun(cp, agent, ids[1]!, { status: 'SUCCESS' }));
  });

  test('kill -9 a code server mid-evaluation: the agent restarts it, the location reloads, runs go on', async () => {
    const codeServers = execFileSync('pgrep', ['-P', String(agent.child!.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
    assert.ok(codeServers.length >= 1, 'the agent has code-server children');
    // A reload makes the agent evaluate the location's definitions over gRPC; kill during it.
    await cp.gql(`mutation { reloadCodeLocation(name: "hello") { version } }`);
    for (const pid of codeServers) process.kill(pid, 'SIGKILL');
    console.log(
      `code server: reloadCodeLocation, then SIGKILL to ${codeServers.length} code server(s) ${codeServers.join(',')}`,
    );
    await until(
      'hello LOADED again',
      async () => {
        const r = await cp.gql<{ codeLocation: { status: string } }>(`{ codeLocation(name: "hello") { status } }`);
        return r.codeLocation.status === 'LOADED';
      },
      120_000,
      250,
    );
    const id = await launch(cp, 'hello', {});
    await waitTerminal(cp, [id]);
    console.log('code server:', await checkRun(cp, agent, id, { status: 'SUCCESS' }));
  });
});
