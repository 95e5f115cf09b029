// A PostgreSQL outage under a live Outpost system: a PostgreSQL of this file's own (stopped
// and started again with pg_ctl), `outpost control-plane` on it with its daemon on, `outpost
// agent` and a Temporal dev server (support/fault-system.ts), with drip runs in flight and the
// fault location's 3-second schedule ticking. Cases: PostgreSQL stops while runs stream and
// finish; the agent is killed (-9) and started again while PostgreSQL is down. Each checks what
// a user needs: every run ends once with its events stored exactly once (support/checks.ts),
// the API answers 503 POSTGRES_UNAVAILABLE with its hint meanwhile and serves again without a
// restart, and the schedule ticks again with no tick or run made twice.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkRun, launch, runStatus, waitTerminal } from './support/checks.js';
import { FaultSystem } from './support/fault-system.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { postgresSkipReason } from '../support/storage.js';
import { sleep, until } from '../support/wait.js';

/** Concurrent drip runs per case. */
const RUNS = 4;
/** How long PostgreSQL stays down: several schedule ticks, agent backoffs and daemon passes. */
const OUTAGE_MS = 12_000;

interface TickView {
  tickTime: number;
  status: string;
  runIds: string[];
  error: string | null;
}

describe('fault injection: PostgreSQL stops and starts under a live system', { skip: postgresSkipReason() }, () => {
  let pg: PgCluster;
  let sys: FaultSystem;
  let agentLog: string;

  before(async () => {
    pg = await startPostgres();
    sys = new FaultSystem({
      controlPlaneArgs: ['--lease-ms', '10000'],
      databaseUrl: pg.url,
      locations: { faults: resolve('test/faults/support/fault-location.ts') },
      agentLog: true,
    });
    agentLog = sys.agentLogFile!;
    await sys.start();
  });
  after(async () => {
    try {
      await sys?.stop();
    } finally {
      pg?.stop();
    }
  });

  /** A user-API query answered as the user sees it: HTTP status and the first error's code and hint. */
  const probe = async (): Promise<{ status: number; code?: string; hint?: string }> => {
    const res = await fetch(`${sys.cp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sys.cp.userToken}` },
      body: JSON.stringify({ query: '{ runs(first: 1) { nodes { id } } }' }),
    });
    const body = (await res.json()) as { errors?: Array<{ extensions?: { code?: string; hint?: string } }> };
    const ext = body.errors?.[0]?.extensions;
    return { status: res.status, ...(ext?.code ? { code: ext.code } : {}), ...(ext?.hint ? { hint: ext.hint } : {}) };
  };

  const ticks = async (): Promise<TickView[]> => {
    const r = await sys.cp.gql<{ codeLocation: { schedules: Array<{ name: string; ticks: TickView[] }> } }>(
      `{ codeLocation(name: "faults") { schedules { name ticks(first: 200) { tickTime status runIds error } } } }`,
    );
    return r.codeLocation.schedules.find((s) => s.name === 'drip_every_3s')!.ticks;
  };

  const setSchedule = (state: 'RUNNING' | 'STOPPED'): Promise<unknown> =>
    sys.cp.gql(
      `mutation($s: AutomationState!) { setScheduleState(location: "faults", name: "drip_every_3s", state: $s) { state } }`,
      {
        s: state,
      },
    );

  /** A tick of the schedule after `since` that made a run, and that run's id. */
  const tickAfter = (since: number): Promise<string> =>
    until(
      `a schedule tick after ${new Date(since).toISOString()} with a run`,
      async () => (await ticks()).find((t) => t.tickTime > since && t.runIds.length)?.runIds[0],
      60_000,
      250,
    );

  /** Every tick once, every tick run once: no tick time twice, no run id in two ticks. */
  const checkTicks = async (): Promise<string> => {
    const all = await ticks();
    const times = all.map((t) => t.tickTime);
    assert.equal(new Set(times).size, times.length, `a tick time twice: ${times.join(',')}`);
    const runIds = all.flatMap((t) => t.runIds);
    assert.equal(new Set(runIds).size, runIds.length, 'a run in two ticks');
    for (const t of all) assert.ok(t.runIds.length <= 1, `tick ${t.tickTime} made ${t.runIds.length} runs`);
    const failed = all.filter((t) => t.status === 'FAILURE');
    assert.deepEqual(failed, [], 'no tick failed');
    return `${all.length} ticks, ${runIds.length} runs, no tick or run twice`;
  };

  /** Waits for the runs to end; if they do not, says where each one is and what the processes last said. */
  const waitEnded = async (ids: string[]): Promise<void> => {
    try {
      await waitTerminal(sys.cp, ids, 180_000);
    } catch (err) {
      const statuses = await Promise.all(ids.map(async (id) => `${id} ${await runStatus(sys.cp, id).catch(String)}`));
      console.log(`runs: ${statuses.join(', ')}`);
      console.log(`control plane, last lines:\n${sys.cp.output.slice(-30).join('')}`);
      console.log(`agent, last lines:\n${readFileSync(agentLog, 'utf8').split('\n').slice(-40).join('\n')}`);
      throw err;
    }
  };

  /** Launches drip runs that end once `release` exists, and waits until all are STARTED. */
  const launchDrips = async (release: string): Promise<string[]> => {
    const config = { everyMs: 100, minEvents: 5, releaseFile: release, maxSeconds: 180 };
    const ids = await Promise.all(Array.from({ length: RUNS }, () => launch(sys.cp, 'drip', config, 'faults')));
    await until(
      `${RUNS} drip runs STARTED`,
      async () => (await Promise.all(ids.map((id) => runStatus(sys.cp, id)))).every((s) => s === 'STARTED'),
      90_000,
      100,
    );
    return ids;
  };

  /** While PostgreSQL is down the API says so, coded, with what to do, every time it is asked. */
  const expectUnavailable = async (say: (...w: unknown[]) => void): Promise<void> => {
    const down = await probe();
    assert.equal(down.status, 503, JSON.stringify(down));
    assert.equal(down.code, 'OUTPOST_ERR_POSTGRES_UNAVAILABLE');
    assert.match(down.hint ?? '', /OUTPOST_DATABASE_URL/);
    const ready = await fetch(`${sys.cp.url}/readyz`);
    assert.equal(ready.status, 503);
    say(`API while down: ${down.status} ${down.code}; /readyz ${ready.status}`);
  };

  const restartPostgres = async (say: (...w: unknown[]) => void): Promise<number> => {
    pg.restart();
    const back = Date.now();
    await until('the API serves again', async () => (await probe()).status === 200, 60_000, 100);
    say(`PostgreSQL started again; the API served again ${Date.now() - back} ms later, same control plane`);
    assert.ok(sys.cp.child && sys.cp.child.exitCode === null, 'the control plane was not restarted');
    return back;
  };

  test('PostgreSQL stops with runs streaming and the schedule ticking: all runs end once, the schedule resumes', async () => {
    const say = (...w: unknown[]): void => console.log('postgres down:', ...w);
    const release = join(sys.dir, 'release-outage');
    await setSchedule('RUNNING');
    try {
      const first = await tickAfter(0);
      const ids = await launchDrips(release);
      pg.pause();
      const downAt = Date.now();
      say(`${RUNS} drip runs STARTED, schedule ticking (run ${first}); PostgreSQL stopped (fast)`);
      await expectUnavailable(say);
      // The runs finish while nothing can be stored: their ends are shipped after the outage.
      writeFileSync(release, '');
      await sleep(OUTAGE_MS);
      assert.ok(sys.agent.child && sys.agent.child.exitCode === null, 'the agent stayed up');
      await expectUnavailable(say);
      const back = await restartPostgres(say);
      const resumed = await tickAfter(back);
      const scheduled = (await ticks()).flatMap((t) => t.runIds);
      await waitEnded([...ids, ...scheduled]);
      say(`down ${back - downAt} ms; the schedule ticked again (run ${resumed})`);
      for (const id of [...ids, ...scheduled]) say(await checkRun(sys.cp, sys.agent, id, { status: 'SUCCESS' }));
      say(await checkTicks());
    } finally {
      await setSchedule('STOPPED').catch(() => undefined);
    }
  });

  test('kill -9 the agent while PostgreSQL is down and start it again: it waits, says why, and recovers', async () => {
    const say = (...w: unknown[]): void => console.log('agent restart while postgres down:', ...w);
    const release = join(sys.dir, 'release-agent');
    await setSchedule('RUNNING');
    try {
      await tickAfter(Date.now());
      const ids = await launchDrips(release);
      pg.pause();
      await sys.agent.kill9();
      say(`${RUNS} drip runs STARTED; PostgreSQL stopped, then SIGKILL to the agent`);
      await expectUnavailable(say);
      const logFrom = readFileSync(agentLog, 'utf8').length;
      const restarted = sys.agent.start();
      // Nothing can register it while PostgreSQL is down: it must wait, and say why.
      await until(
        'the restarted agent names the outage',
        () => /OUTPOST_ERR_POSTGRES_UNAVAILABLE/.test(readFileSync(agentLog, 'utf8').slice(logFrom)),
        60_000,
        250,
      );
      const line = readFileSync(agentLog, 'utf8')
        .slice(logFrom)
        .split('\n')
        .find((l) => /OUTPOST_ERR_POSTGRES_UNAVAILABLE/.test(l))!;
      const said = JSON.parse(line) as { msg: string; err: string; hint?: string };
      assert.match(said.msg, /registerAgent/);
      assert.match(said.hint ?? '', /OUTPOST_DATABASE_URL/, line);
      assert.doesNotMatch(said.err, /reached: PostgreSQL could not be reached/, 'the message is said once');
      say(`the restarted agent says: ${said.msg}: ${said.err} (${said.hint})`);
      writeFileSync(release, '');
      await sleep(OUTAGE_MS / 2);
      const back = await restartPostgres(say);
      await restarted;
      say(`the agent was ready ${Date.now() - back} ms after PostgreSQL came back`);
      const resumed = await tickAfter(back);
      const scheduled = (await ticks()).flatMap((t) => t.runIds);
      await waitEnded([...ids, ...scheduled]);
      say(`the schedule ticked again (run ${resumed})`);
      for (const id of [...ids, ...scheduled]) say(await checkRun(sys.cp, sys.agent, id, { status: 'SUCCESS' }));
      say(await checkTicks());
    } finally {
      await setSchedule('STOPPED').catch(() => undefined);
    }
  });
});
