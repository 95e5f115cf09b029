// A Temporal outage under a live Outpost system (support/fault-system.ts: a Temporal dev server
// on a SQLite file, restarted on the same file and port; `outpost control-plane` with its daemon
// on; `outpost agent`), with drip runs in flight and the fault location's 3-second schedule
// ticking. Leases are short (20 s, 2 attempts) so that an outage of 45 s outlasts every attempt
// of an item, as a few minutes would with the default 60 s leases and 5 attempts (a lease still
// outlasts the ~10 s a workflow start takes to fail while Temporal is away). During the outage a run is
// launched, a run is terminated and the control plane is restarted. A user needs: every run
// ends once with its events stored exactly once (support/checks.ts), the terminated one
// CANCELED; the schedule's ticks that came due during the outage fire one run at most (the
// daemon's missed-tick policy: the latest fires, the others are skipped with the reason); the
// schedule ticks again afterwards; the agent says TEMPORAL_UNAVAILABLE, coded, without a line
// per item per retry.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkRun, launch, runStatus, waitTerminal } from './support/checks.js';
import { FaultSystem } from './support/fault-system.js';
import { kill9 } from '../support/process.js';
import { sleep, until } from '../support/wait.js';

/** How long Temporal stays down: past every attempt of a claim (2 × 20 s leases), ~15 schedule ticks. */
const OUTAGE_MS = 45_000;

interface TickView {
  tickTime: number;
  status: string;
  runIds: string[];
  skipReason: string | null;
  error: string | null;
}

interface LogLine {
  level: number;
  time: number;
  msg: string;
  code?: string;
}

describe('fault injection: Temporal goes away for longer than a lease under a live system', () => {
  const sys = new FaultSystem({
    controlPlaneArgs: ['--lease-ms', '20000', '--max-attempts', '2'],
    locations: { faults: resolve('test/faults/support/fault-location.ts') },
    agentLog: true,
  });

  before(() => sys.start());
  after(() => sys.stop());

  const ticks = async (): Promise<TickView[]> => {
    const r = await sys.cp.gql<{ codeLocation: { schedules: Array<{ name: string; ticks: TickView[] }> } }>(
      `{ codeLocation(name: "faults") { schedules { name ticks(first: 200) { tickTime status runIds skipReason error } } } }`,
    );
    return r.codeLocation.schedules.find((s) => s.name === 'drip_every_3s')!.ticks;
  };

  const setSchedule = (state: 'RUNNING' | 'STOPPED'): Promise<unknown> =>
    sys.cp.gql(
      `mutation($s: AutomationState!) { setScheduleState(location: "faults", name: "drip_every_3s", state: $s) { state } }`,
      { s: state },
    );

  /** The agent's whole log lines (JSON) written since `from` characters into its file. */
  const agentLines = (from: number): LogLine[] =>
    readFileSync(sys.agentLogFile!, 'utf8')
      .slice(from)
      .split('\n')
      // The last piece is '' or a line still being written: parsed, it would throw.
      .slice(0, -1)
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);

  test('runs in flight, one launched and one terminated while Temporal is down, the control plane restarted meanwhile', async () => {
    const say = (...w: unknown[]): void => console.log('temporal down:', ...w);
    const release = join(sys.dir, 'release');
    const config = { everyMs: 100, minEvents: 5, releaseFile: release, maxSeconds: 240 };
    await setSchedule('RUNNING');
    try {
      await until('a schedule tick with a run', async () => (await ticks()).some((t) => t.runIds.length), 60_000, 250);
      const drips = await Promise.all([0, 1, 2].map(() => launch(sys.cp, 'drip', config, 'faults')));
      await until(
        'drip runs STARTED',
        async () => (await Promise.all(drips.map((id) => runStatus(sys.cp, id)))).every((s) => s === 'STARTED'),
        90_000,
        100,
      );
      const logFrom = readFileSync(sys.agentLogFile!, 'utf8').length;
      await kill9(sys.temporal.process);
      const downAt = Date.now();
      say(`SIGKILL to the Temporal dev server with ${drips.length} drip runs STARTED and the schedule ticking`);

      const late = await launch(sys.cp, 'drip', { ...config, minEvents: 3 }, 'faults');
      const victim = drips[0]!;
      await sys.cp.gql(`mutation($id: ID!) { terminateRun(id: $id) { status } }`, { id: victim });
      say(`launched run ${late} and asked to terminate run ${victim} while Temporal is down`);
      await sleep(OUTAGE_MS / 2);
      await sys.cp.stop();
      await sys.cp.start();
      say('restarted the control plane while Temporal is down');
      writeFileSync(release, '');
      await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
      assert.ok(sys.agent.child && sys.agent.child.exitCode === null, 'the agent stayed up');

      // The outage ends when the dev server starts: its start may take seconds, and the agent
      // can reach it before it says it is ready.
      const restarting = Date.now();
      await sys.startTemporal();
      const back = Date.now();
      say(`Temporal started again on the same file and port after ${back - downAt} ms`);
      const outageLines = agentLines(logFrom).filter((l) => l.time >= downAt && l.time < restarting && l.level >= 40);
      say(
        `agent lines at warn or above during the outage: ${outageLines.length}; codes: ${[...new Set(outageLines.map((l) => l.code))].join(',')}`,
      );
      for (const l of agentLines(logFrom).filter((l) => /Temporal/.test(l.msg))) say(`  agent: ${JSON.stringify(l)}`);
      for (const m of new Set(outageLines.map((l) => l.msg)))
        say(`  ${outageLines.filter((l) => l.msg === m).length} x ${m}`);

      const resumed = await until(
        'a schedule tick after Temporal came back, with a run',
        async () => (await ticks()).find((t) => t.tickTime > back && t.runIds.length),
        90_000,
        250,
      );
      const all = await ticks();
      const scheduled = all.flatMap((t) => t.runIds);
      const during = all.filter((t) => t.tickTime > downAt && t.tickTime < restarting);
      for (const t of during)
        say(
          `  tick ${new Date(t.tickTime).toISOString()} ${t.status} ${t.runIds.join(',')} ${t.skipReason ?? ''} ${t.error ?? ''}`,
        );
      const ended = await waitTerminal(sys.cp, [...drips, late, ...scheduled], 180_000);
      say(`the schedule ticked again at ${new Date(resumed.tickTime).toISOString()}`);
      say(await checkRun(sys.cp, sys.agent, victim, { status: 'CANCELED' }));
      for (const id of [...drips.slice(1), late, ...scheduled]) {
        say(await checkRun(sys.cp, sys.agent, id, { status: 'SUCCESS' }));
      }
      assert.equal(ended.size, drips.length + 1 + scheduled.length);

      assert.deepEqual(
        all.filter((t) => t.status === 'FAILURE'),
        [],
        'no tick failed',
      );
      const firedDuring = during.filter((t) => t.runIds.length);
      assert.ok(firedDuring.length <= 1, `${firedDuring.length} of the outage's ${during.length} ticks made runs`);
      // Said once, coded, with what to do; not a line per claimed item per retry.
      const said = outageLines.filter((l) => l.code === 'OUTPOST_ERR_TEMPORAL_UNAVAILABLE');
      assert.equal(said.length, 1, 'the agent says TEMPORAL_UNAVAILABLE once');
      assert.deepEqual(
        outageLines.filter((l) => l.msg === 'retrying'),
        [],
        'no per-item retry lines at warn',
      );
      const times = all.map((t) => t.tickTime);
      assert.equal(new Set(times).size, times.length, 'no tick time twice');
      assert.equal(new Set(scheduled).size, scheduled.length, 'no run in two ticks');
    } finally {
      await setSchedule('STOPPED').catch(() => undefined);
    }
  });

  test('kill -9 the agent while the control plane is down; the agent comes back first, then the control plane', async () => {
    const say = (...w: unknown[]): void => console.log('agent -9 while control plane down:', ...w);
    const release = join(sys.dir, 'release-b');
    const config = { everyMs: 100, minEvents: 5, releaseFile: release, maxSeconds: 240 };
    await setSchedule('RUNNING');
    try {
      const drips = await Promise.all([0, 1].map(() => launch(sys.cp, 'drip', config, 'faults')));
      await until(
        'drip runs STARTED',
        async () => (await Promise.all(drips.map((id) => runStatus(sys.cp, id)))).every((s) => s === 'STARTED'),
        90_000,
        100,
      );
      await sys.cp.stop();
      await sys.agent.kill9();
      const logFrom = readFileSync(sys.agentLogFile!, 'utf8').length;
      say(`${drips.length} drip runs STARTED; control plane stopped, then SIGKILL to the agent`);
      const restarted = sys.agent.start();
      await until(
        'the restarted agent names the missing control plane',
        () => agentLines(logFrom).some((l) => l.code === 'OUTPOST_ERR_CONTROL_PLANE_UNAVAILABLE'),
        60_000,
        250,
      );
      writeFileSync(release, '');
      await sleep(5_000);
      await sys.cp.start();
      const back = Date.now();
      await restarted;
      say(`control plane started again; the agent was ready ${Date.now() - back} ms later`);
      const lines = agentLines(logFrom).filter((l) => l.time < back && l.level >= 40);
      for (const m of new Set(lines.map((l) => `${l.code ?? ''} ${l.msg}`)))
        say(`  ${lines.filter((l) => `${l.code ?? ''} ${l.msg}` === m).length} x ${m}`);
      await until(
        'a schedule tick after the control plane came back, with a run',
        async () => (await ticks()).find((t) => t.tickTime > back && t.runIds.length),
        90_000,
        250,
      );
      const all = await ticks();
      const scheduled = all.flatMap((t) => t.runIds);
      await waitTerminal(sys.cp, [...drips, ...scheduled], 180_000);
      for (const id of [...drips, ...scheduled]) say(await checkRun(sys.cp, sys.agent, id, { status: 'SUCCESS' }));
      const times = all.map((t) => t.tickTime);
      assert.equal(new Set(times).size, times.length, 'no tick time twice');
      assert.equal(new Set(scheduled).size, scheduled.length, 'no run in two ticks');
      assert.deepEqual(
        all.filter((t) => t.status === 'FAILURE'),
        [],
        'no tick failed',
      );
    } finally {
      await setSchedule('STOPPED').catch(() => undefined);
    }
  });
});
