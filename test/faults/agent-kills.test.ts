// kill -9 the agent at the issue's five moments (and while runs wait for a boot slot), each with
// 20 concurrent runs, on one real system (support/fault-system.ts: Temporal dev server,
// `outpost control-plane` with 10 s leases, `outpost agent --max-in-flight 32
// --max-booting-run-workers 2`, all child processes). The agent reaches the
// control plane through an AgentApiGate (support/agent-api-gate.ts) that can hold chosen calls.
// Every moment is reached by observing state, never by sleeping a guessed time; how is in
// support/agent-moments.ts: at claim (claim answer held), after workflow start before ack
// (acks held), mid-launch (launch reports held, workers spawned), waiting for a boot slot (some
// workers spawned, the rest waiting under the agent's cap of 2), mid-supervise (all STARTED,
// events flowing) and mid-termination (signals delivered, a worker cleaning up after SIGTERM).
// Runs are `drip` runs (support/fault-location.ts) that end when the case creates their
// release file after the restart. Each case prints what it saw at the kill, what the restarted
// agent found, and then checks ALL 20 runs: terminal status, seqs 1..N contiguous and equal to
// the spool's, spawned once (spawns.log), stored stdout identical to the spool, the database
// rows (work items COMPLETED, run_events and stdout chunk counts, runs.last_seq), and exactly
// one Temporal execution per work item.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { AGENT_KILL_MOMENTS, executionsOf, tally, workflowsExisting } from './support/agent-moments.js';
import { checkRun, launch, waitTerminal } from './support/checks.js';
import { FaultSystem } from './support/fault-system.js';
import { StoreView } from './support/store-view.js';
import { until } from '../support/wait.js';

/** Concurrent runs per moment (the issue's figure). */
const RUNS = 20;

describe('fault injection: kill -9 the agent at five moments of 20 concurrent runs', () => {
  const sys = new FaultSystem({
    controlPlaneArgs: ['--lease-ms', '10000', '--no-daemon'],
    // One claim can take all of a case's runs (the at-claim moment holds exactly one claim).
    // Two workers boot at once whatever the host's cores, so runs wait for a boot slot.
    agentArgs: ['--max-in-flight', String(RUNS + 12), '--max-booting-run-workers', '2'],
    gate: true,
    locations: { faults: resolve('test/faults/support/fault-location.ts') },
  });

  before(() => sys.start());
  after(() => sys.stop());

  for (const moment of AGENT_KILL_MOMENTS) {
    test(`kill -9 the agent ${moment.name} of ${RUNS} concurrent runs, restart it: each ends ${moment.expect}, once`, async () => {
      const { cp, agent } = sys;
      const gate = sys.gate!;
      const say = (...what: unknown[]): void => console.log(`agent ${moment.name}:`, ...what);
      const view = new StoreView(cp.dbFile);
      const connection = await Connection.connect({ address: sys.temporal.address });
      const client = new Client({ connection });
      const ctx = { cp, agent, gate, view, temporal: client };
      const release = join(sys.dir, `release-${moment.name.replace(/\W+/g, '-')}`);
      try {
        await moment.arm?.(ctx);
        const t0 = Date.now();
        const config = {
          everyMs: 100,
          minEvents: 5,
          releaseFile: release,
          cleanupMs: moment.cleanupMs ?? 4_000,
          maxSeconds: 240,
        };
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
          90_000,
          100,
        );
        say(
          `agent back in ${restartedMs} ms; all ${RUNS} runs terminal and their work items finished ${Date.now() - killedAt} ms after the kill (runs ${view.timeline(ids, killedAt)} from the kill)`,
        );
        for (const id of ids)
          say(await checkRun(cp, agent, id, { status: moment.expect, store: { view, items: moment.items } }));
        const workflows = view.workItems(ids).map((i) => i.workflow_id!);
        for (const w of workflows) assert.equal(await executionsOf(client, w), 1, `one execution of ${w}`);
        say(`Temporal: exactly one execution per work item (${workflows.length} workflows)`);
      } finally {
        gate.reset();
        view.close();
        await connection.close();
      }
    });
  }
});
