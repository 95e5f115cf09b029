// kill -9 of every process in a real Outpost system, one case after another on one system:
// a dedicated Temporal dev server (SQLite file, fixed port, restartable), `outpost control-plane`
// (file SQLite, restartable on the same DB and port, 1 MiB log cap, 10 s leases) and
// `outpost agent` (--max-in-flight 32), all child processes. The agent reaches the control
// plane through an AgentApiGate (support/agent-api-gate.ts), a pass-through HTTP hop that the
// agent-kill cases use to hold chosen calls.
// The agent is killed at the issue's five moments, each with 20 concurrent `drip` runs
// (support/fault-location.ts: events flow until a release file exists) and each reached by
// observing state (support/agent-moments.ts says how): at claim, after workflow start before
// ack, mid-launch, mid-supervise and mid-termination. Each prints what it saw at the kill.
// Every case checks its runs: right terminal status, contiguous seqs equal to the spool's,
// spawned once, stored stdout identical to the spool; the agent-kill cases also check every
// run's database rows (work items COMPLETED, event and stdout chunk counts) and that Temporal
// holds exactly one execution per work item.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/shared/temporal-dev-server.js';
import { AgentApiGate } from './support/agent-api-gate.js';
import { AGENT_KILL_MOMENTS, executionsOf, tally, workflowsExisting } from './support/agent-moments.js';
import { checkRun, launch, runEvents, runStatus, storedStdout, waitTerminal } from './support/checks.js';
import { StoreView } from './support/store-view.js';
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
/** Concurrent runs per agent-kill moment (the issue's figure). */
const RUNS = 20;

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
  const gate = new AgentApiGate(() => cp.url);

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
    await gate.start();
    const tokenFile = await cp.agentTokenFile();
    agent = new AgentProcess({
      url: () => gate.url,
      tokenFile,
      temporalAddress: temporal.address,
      taskQueue: 'faults',
      dataDir: join(dir, 'agent'),
      // One claim can take all of a case's runs (the at-claim moment holds exactly one claim).
      extraArgs: ['--max-in-flight', String(RUNS + 12)],
    });
    await agent.start();
    await deploy('hello', resolve('examples/hello/definitions.ts'));
    await deploy('bench', resolve('bench/fixtures/bench-location.ts'));
    await deploy('faults', resolve('test/faults/support/fault-location.ts'));
  });

  after(async () => {
    killLeftoverWorkers(join(dir, 'agent', 'runs'));
    await agent?.stop();
    await gate.stop();
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

  for (const moment of AGENT_KILL_MOMENTS) {
    test(`kill -9 the agent ${moment.name} of ${RUNS} concurrent runs, restart it: each ends ${moment.expect}, once`, async () => {
      const say = (...what: unknown[]): void => console.log(`agent ${moment.name}:`, ...what);
      const view = new StoreView(cp.dbFile);
      const connection = await Connection.connect({ address: temporal.address });
      const client = new Client({ connection });
      const ctx = { cp, agent, gate, view, temporal: client };
      const release = join(dir, `release-${moment.name.replace(/\W+/g, '-')}`);
      try {
        await moment.arm?.(ctx);
        const t0 = Date.now();
        const config = { everyMs: 100, minEvents: 5, releaseFile: release, cleanupMs: 3_000, maxSeconds: 240 };
        const ids = await Promise.all(Array.from({ length: RUNS }, () => launch(cp, 'drip', config, 'faults')));
        const seen = await moment.reach(ctx, ids);
        await agent.kill9();
        const killedAt = Date.now();
        gate.reset();
        say(`${RUNS} drip runs launched; SIGKILL ${killedAt - t0} ms later, when: ${seen}`);
        const runs = view.runs(ids);
        const items = view.workItems(ids);
        say(
          `the restarted agent finds: runs ${tally(ids.map((id) => runs.get(id)!.status))}; items ${tally(items.map((i) => `${i.kind}:${i.status}`))}; run workflows ${await workflowsExisting(client, ids)}/${RUNS}`,
        );
        await agent.start();
        const restartedMs = Date.now() - killedAt;
        if (moment.release) writeFileSync(release, '');
        await waitTerminal(cp, ids, 240_000);
        // A run's status comes from its terminal event; its work item completes just after.
        await until(
          'work items finished',
          () => view.workItems(ids).every((i) => i.status === 'COMPLETED' || i.status === 'FAILED'),
          60_000,
          100,
        );
        say(
          `agent back in ${restartedMs} ms; all ${RUNS} runs terminal ${Date.now() - killedAt} ms after the kill (runs ${view.timeline(ids, killedAt)} from the kill)`,
        );
        for (const id of ids)
          say(await checkRun(cp, agent, id, { status: moment.expect, store: { view, items: moment.items } }));
        for (const item of view.workItems(ids)) {
          assert.equal(await executionsOf(client, item.workflow_id!), 1, `one execution of ${item.workflow_id}`);
        }
        say(`Temporal: exactly one execution per work item (${view.workItems(ids).length} workflows)`);
      } finally {
        gate.reset();
        view.close();
        await connection.close();
      }
    });
  }

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
