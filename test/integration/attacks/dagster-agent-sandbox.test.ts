// Attack, end to end: a Dagster location deployed over GraphQL to a real `outpost agent` process
// (default `--isolation auto`, its token in a file beside the control plane's SQLite database)
// searches for credentials at import, in `testSensor` and in a launched run
// (test/fixtures/dagster/locations/credential_probe.py). With bubblewrap in force nothing of the
// agent's may be found: not its token file, not the database beside it, not its data dir
// (sockets, other runs), not its /proc entries. The per-piece cases, and `--isolation none`, are
// in dagster-user-code.test.ts; this one checks the agent wires them together.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bubblewrapUsable } from '../../../src/agent/launchers/sandbox.js';
import { spawnAgentProcess, startStack, type Stack } from '../../support/stack.js';
import { testTemporal } from '../../support/temporal.js';
import { until } from '../../support/wait.js';
import { LOCATIONS_DIR, python, skip as noDagster } from '../dagster/dagster-manager-harness.js';

interface ProbeReport {
  found: Array<{ where: string; token: string }>;
  files: string[];
  pids: number[];
  searched: { files: number; procs: number; envVars: number };
}

const bwrap = bubblewrapUsable();
const skip = noDagster || (bwrap.ok ? false : `bubblewrap unusable here: ${bwrap.why}`);
if (skip) console.log(`# skipping the Dagster agent sandbox attack: ${skip}`);

function parse(text: string, marker: string): ProbeReport {
  const at = text.indexOf(marker);
  assert.ok(at >= 0, `no ${marker} in: ${text.slice(0, 500)}`);
  return JSON.parse(text.slice(at + marker.length + 1).split('\n')[0]!) as ProbeReport;
}

describe('attack: a Dagster location on a real agent searches for credentials', { skip }, () => {
  let stack: Stack;
  let agent: ChildProcess;

  before(async () => {
    stack = await startStack({ temporalAddress: (await testTemporal()).address });
    agent = await spawnAgentProcess(stack);
  });
  after(async () => {
    if (agent && agent.exitCode === null) {
      const gone = new Promise((r) => agent.once('exit', r));
      agent.kill('SIGTERM');
      await gone;
    }
    await stack?.close();
  });

  /** Nothing the agent holds: no token-shaped string, no file under its dirs but the run's own. */
  function clean(where: string, r: ProbeReport, own: string[] = []): void {
    assert.ok(r.searched.procs > 0, `${where}: the probe searched nothing`);
    assert.deepEqual(r.found, [], `${where}: user code found secrets`);
    const foreign = r.files.filter((f) => !own.some((o) => f.startsWith(`${o}/`)));
    assert.deepEqual(foreign, [], `${where}: user code read the agent's files`);
    assert.ok(!r.pids.includes(agent.pid!), `${where}: it sees the agent's process`);
  }

  test('at import, in testSensor and in a run, nothing is found', async () => {
    const deployed = await stack.gql<{ deployCodeLocation: { version: number } }>(
      `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
      {
        i: {
          name: 'probe',
          dagster: { python, pythonFile: 'credential_probe.py', workingDirectory: LOCATIONS_DIR },
          env: { PROBE_PATHS: stack.dataDir },
        },
      },
    );
    const loc = await until(
      'the probe location to settle',
      async () => {
        const r = await stack.gql<{
          codeLocation: {
            status: string;
            version: number;
            loadError: string | null;
            jobs: Array<{ description: string }>;
          };
        }>(`{ codeLocation(name: "probe") { status version loadError jobs { description } } }`);
        const l = r.codeLocation;
        return l.version === deployed.deployCodeLocation.version && l.status !== 'LOADING' ? l : undefined;
      },
      180_000,
    );
    assert.equal(loc.status, 'LOADED', loc.loadError ?? '');
    clean('code server at import', parse(loc.jobs[0]!.description, 'PROBE_AT_IMPORT'));

    const tick = await stack.gql<{ testSensor: { skipReason: string | null; error: string | null } }>(
      `mutation { testSensor(input: {location: "probe", name: "probe_sensor"}) { skipReason error } }`,
    );
    assert.equal(tick.testSensor.error, null);
    clean('code server in testSensor', parse(tick.testSensor.skipReason ?? '', 'PROBE_IN_SENSOR'));

    const id = await stack.launch('probe_job', {}, 'probe');
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 180_000);
    assert.equal(run.status, 'SUCCESS', JSON.stringify(run.events.slice(-3)));
    const agentDir = join(stack.dataDir, 'agent');
    clean('run step', parse(await stack.computeLogs(id, 'stdout'), 'PROBE_IN_RUN'), [
      join(agentDir, 'runs', id),
      join(agentDir, 'artifacts', 'probe'),
    ]);
  });
});
