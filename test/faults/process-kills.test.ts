// kill -9 of every process in a real Outpost system, one case after another on one system:
// a dedicated Temporal dev server (SQLite file, fixed port, restartable), `outpost control-plane`
// (file SQLite, restartable on the same DB and port, 1 MiB log cap) and `outpost agent`, all child
// processes. Every case checks its runs: right terminal status, contiguous seqs, spawned once,
// stored stdout identical to the spool. Runs are fewer than the 20 (6 per agent-kill
// moment) so the suite fits a 2-core CI box; the moments are approximated by observing state.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startDevServer, type DevServer } from '../../src/shared/temporal-dev-server.js';
import { checkRun, launch, runEvents, runStatus, storedStdout, waitTerminal } from './support/checks.js';
import { AgentProcess, ControlPlaneProcess, kill9, sleep, until } from './support/system.js';

const LOG_CAP = 1024 * 1024;

/** True when the run worker recorded in <runDir>/process.json is still running. */
function workerAlive(runDir: string): boolean {
  try {
    const { pid } = JSON.parse(readFileSync(join(runDir, 'process.json'), 'utf8')) as { pid: number };
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the process group of any run worker of ours still alive (never leave one behind). */
function killLeftoverWorkers(runsDir: string): void {
  let runs: string[] = [];
  try {
    runs = readdirSync(runsDir);
  } catch {
    return;
  }
  for (const r of runs) {
    if (!workerAlive(join(runsDir, r))) continue;
    const { pid } = JSON.parse(readFileSync(join(runsDir, r, 'process.json'), 'utf8')) as { pid: number };
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
const CHATTY_EVENTS = 2_000;

describe('fault injection: kill -9 and restarts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-faults-'));
  let temporal: DevServer;
  let temporalPort = 0;
  const cp = new ControlPlaneProcess(join(dir, 'cp'), [
    '--compute-log-cap-bytes',
    String(LOG_CAP),
    '--lease-ms',
    '10000',
    '--no-daemon',
  ]);
  let agent: AgentProcess;

  const startTemporal = async (): Promise<void> => {
    temporal = await startDevServer({
      dbFile: join(dir, 'temporal.db'),
      ...(temporalPort ? { port: temporalPort } : {}),
    });
    temporalPort = Number(temporal.address.split(':')[1]);
  };
  const deploy = async (name: string, module: string): Promise<void> => {
    await cp.gql(`mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`, {
      i: { name, module },
    });
    await until(`${name} loaded`, async () => {
      const r = await cp.gql<{ codeLocation: { status: string } }>(
        `query($n: String!) { codeLocation(name: $n) { status } }`,
        { n: name },
      );
      return r.codeLocation.status === 'LOADED';
    });
  };

  before(async () => {
    await startTemporal();
    await cp.start();
    const tokenFile = await cp.agentTokenFile();
    agent = new AgentProcess({
      url: () => cp.url,
      tokenFile,
      temporalAddress: temporal.address,
      taskQueue: 'faults',
      dataDir: join(dir, 'agent'),
    });
    await agent.start();
    await deploy('hello', resolve('examples/hello/definitions.ts'));
    await deploy('bench', resolve('bench/fixtures/bench-location.ts'));
  });

  after(async () => {
    killLeftoverWorkers(join(dir, 'agent', 'runs'));
    await agent?.stop();
    await cp.stop();
    await temporal?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('kill -9 a run worker from outside: the run fails with the signal, nothing else lost', async () => {
    const victim = await launch(cp, 'sleepy', { seconds: 60 });
    const bystander = await launch(cp, 'chatty', { events: CHATTY_EVENTS });
    await until('victim STARTED', async () => (await runStatus(cp, victim)) === 'STARTED');
    const rec = JSON.parse(readFileSync(join(agent.opts.dataDir, 'runs', victim, 'process.json'), 'utf8')) as {
      pid: number;
    };
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

  const agentMoments: Array<{ name: string; how: string; wait: (ids: string[]) => Promise<void> }> = [
    { name: 'at claim', how: 'SIGKILL right after the launches (runs still QUEUED)', wait: async () => sleep(30) },
    {
      name: 'after workflow start, before ack / mid-launch',
      how: 'SIGKILL as soon as one run left QUEUED (workflow started; others being acked or spawned)',
      wait: async (ids) =>
        void (await until(
          'a run left QUEUED',
          async () => (await Promise.all(ids.map((i) => runStatus(cp, i)))).some((s) => s !== 'QUEUED'),
          60_000,
          20,
        )),
    },
    {
      name: 'mid-supervise',
      how: 'SIGKILL once half the runs are STARTED (events being shipped)',
      wait: async (ids) =>
        void (await until(
          'half STARTED',
          async () =>
            (await Promise.all(ids.map((i) => runStatus(cp, i)))).filter((s) => s === 'STARTED' || s === 'SUCCESS')
              .length >=
            ids.length / 2,
          90_000,
          50,
        )),
    },
  ];
  for (const moment of agentMoments) {
    test(`kill -9 the agent ${moment.name}, restart it: every run finishes once`, async () => {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++)
        ids.push(await launch(cp, i % 2 ? 'sleepy' : 'chatty', i % 2 ? { seconds: 2 } : { events: CHATTY_EVENTS }));
      await moment.wait(ids);
      const at = await Promise.all(ids.map((i) => runStatus(cp, i)));
      await agent.kill9();
      console.log(`agent ${moment.name}: ${moment.how}; run statuses at the kill: ${at.join(',')}`);
      await sleep(500);
      await agent.start();
      await waitTerminal(cp, ids);
      for (const [i, id] of ids.entries()) {
        console.log(
          `agent ${moment.name}:`,
          await checkRun(cp, agent, id, { status: 'SUCCESS', ...(i % 2 ? {} : { userEvents: CHATTY_EVENTS + 5 }) }),
        );
      }
    });
  }

  // Found the run ending FAILURE with an orphaned worker (fixed in 057d741).
  test('kill -9 the agent mid-termination: the run ends CANCELED, spawned once', async () => {
    const id = await launch(cp, 'sleepy', { seconds: 120 });
    await until('STARTED', async () => (await runStatus(cp, id)) === 'STARTED');
    await cp.gql(`mutation($id: ID!) { terminateRun(id: $id) { id } }`, { id });
    await sleep(150);
    const at = await runStatus(cp, id);
    await agent.kill9();
    console.log(`agent mid-termination: terminateRun, SIGKILL to the agent 150 ms later (status ${at}); restart`);
    await agent.start();
    await waitTerminal(cp, [id]);
    console.log('agent mid-termination:', await checkRun(cp, agent, id, { status: 'CANCELED' }));
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
    await kill9(temporal.process);
    console.log(`temporal: SIGKILL to the dev server with 2 runs STARTED; restart on port ${temporalPort} after 1 s`);
    await sleep(1_000);
    await startTemporal();
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
