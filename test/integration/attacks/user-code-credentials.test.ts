// Attack: user code steals the agent's and the admin's tokens (issue 13, item 1). A real
// `outpost agent` process runs as `npm start` used to run it: its token file named on its
// command line, the admin's user.token next to it, its data dir in the same directory (here
// under /var/tmp, outside /tmp, so only the agent's own hiding protects it), and a user token
// in its environment (OUTPOST_TOKEN, as a shell that uses the CLI would have). A hostile
// location (test/fixtures/user-code/credential-probe) searches its environment, /proc and the
// files it can reach, at import in the code server and in a warm standby, and inside cold and
// warm runs. Nothing it finds may be either live token.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { defaultCliCommand } from '../../../src/agent/launchers/process-launcher.js';
import { testTemporal } from '../../support/temporal.js';
import { startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';

const PROBE = resolve('test/fixtures/user-code/credential-probe/definitions.ts');

interface ProbeReport {
  found: Array<{ where: string; token: string }>;
  searched: { files: number; procs: number; envVars: number };
}

let stack: Stack;
let home: string;
let adminToken: string;

async function startAgentProcess(warmRunWorkers: number): Promise<ChildProcess> {
  const [node, ...pre] = defaultCliCommand();
  const child = spawn(
    node!,
    [
      ...pre,
      'agent',
      '--url',
      stack.cp.url,
      '--token-file',
      join(home, 'agent.token'),
      '--temporal-address',
      stack.temporalAddress,
      '--task-queue',
      stack.taskQueue,
      '--data-dir',
      join(home, 'agent'),
      '--warm-run-workers',
      String(warmRunWorkers),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OUTPOST_LOG_LEVEL: 'info', OUTPOST_TOKEN: adminToken },
    },
  );
  let banner = '';
  child.stderr?.on('data', (b: Buffer) => (banner += b.toString('utf8')));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error('agent did not become ready in 90 s')), 90_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('OUTPOST_AGENT_READY')) {
        clearTimeout(timer);
        res();
      }
    });
    child.once('exit', (code) => rej(new Error(`agent exited with ${code}: ${banner}`)));
  });
  // The banner follows the ready line: give it a moment, it is only reported.
  await until('the banner', () => banner.includes('data dir'), 10_000, 50).catch(() => undefined);
  process.stderr.write(`agent banner: ${banner.split('\n').find((l) => l.includes('isolation')) ?? '(none)'}\n`);
  return child;
}

async function stopAgent(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((res) => {
    child.once('exit', () => res());
    child.kill('SIGTERM');
  });
}

function parseReport(text: string, marker: string): ProbeReport[] {
  return text
    .split('\n')
    .filter((l) => l.includes(marker))
    .map((l) => JSON.parse(l.slice(l.indexOf(marker) + marker.length + 1)) as ProbeReport);
}

/** The assertion of this suite: searched something, found neither live token. */
function assertClean(where: string, report: ProbeReport): void {
  assert.ok(report.searched.procs > 0 && report.searched.files > 0, `${where}: the probe searched nothing`);
  const stolen = report.found.filter((f) => f.token === stack.agentToken || f.token === adminToken);
  assert.deepEqual(
    stolen.map((f) => `${f.token.startsWith('opa_') ? 'agent' : 'user'} token in ${f.where}`),
    [],
    `${where}: user code found a live token`,
  );
}

async function runProbe(): Promise<{ warm: boolean; reports: ProbeReport[] }> {
  const id = await stack.launch('probe', {}, 'probe');
  const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED']);
  assert.equal(run.status, 'SUCCESS', JSON.stringify(run.events.slice(-3)));
  const stdout = await stack.computeLogs(id, 'stdout');
  // RUN_START says whether a warm standby ran it (the control plane's ENGINE event may precede it).
  const start = await stack.gql<{ run: { events: Array<{ type: string; data: { warm?: boolean } | null }> } }>(
    `query($id: ID!) { run(id: $id) { events(afterSeq: 0, first: 10) { type data } } }`,
    { id },
  );
  return {
    warm: start.run.events.find((e) => e.type === 'RUN_START')?.data?.warm === true,
    reports: [...parseReport(stdout, 'PROBE_IN_RUN'), ...parseReport(stdout, 'PROBE_AT_IMPORT')],
  };
}

describe('attack: user code searches for the agent and admin tokens', () => {
  before(async () => {
    stack = await startStack({ temporalAddress: (await testTemporal()).address });
    adminToken = await stack.cp.issueToken('user', 'admin');
    mkdirSync('/var/tmp', { recursive: true });
    home = mkdtempSync('/var/tmp/outpost-attack-');
    writeFileSync(join(home, 'agent.token'), `${stack.agentToken}\n`, { mode: 0o600 });
    writeFileSync(join(home, 'user.token'), `${adminToken}\n`, { mode: 0o600 });
  });
  after(async () => {
    await stack?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('at import in a code server, and inside a cold run, nothing is found', async () => {
    const agent = await startAgentProcess(0);
    try {
      await stack.deploy('probe', PROBE, { PROBE_PATHS: `${home}:${join(home, 'agent')}` });
      const loc = await stack.gql<{ codeLocation: { status: string; jobs: Array<{ description: string }> } }>(
        `query { codeLocation(name: "probe") { status jobs { description } } }`,
      );
      assert.equal(loc.codeLocation.status, 'LOADED');
      const [atImport] = parseReport(loc.codeLocation.jobs[0]!.description, 'PROBE_AT_IMPORT');
      assertClean('code server at import', atImport!);

      const { warm, reports } = await runProbe();
      assert.equal(warm, false, 'this run was meant to start cold');
      // What the run's own import saw, and what its op saw.
      assert.equal(reports.length, 2);
      for (const r of reports) assertClean('cold run', r);
    } finally {
      await stopAgent(agent);
    }
  });

  test('at import in a warm standby, and inside the run it takes, nothing is found', async () => {
    const agent = await startAgentProcess(1);
    try {
      // The standby boots once the location is loaded on this agent; wait for a warm run.
      const found = await until(
        'a run handed to a warm standby',
        async () => {
          const r = await runProbe();
          return r.warm ? r : undefined;
        },
        120_000,
        500,
      );
      // What the standby saw at import (before any run existed), and what the run's op saw.
      assert.equal(found.reports.length, 2);
      for (const r of found.reports) assertClean('warm standby', r);
    } finally {
      await stopAgent(agent);
    }
  });
});
