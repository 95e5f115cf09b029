// kill -9 of a real `outpost agent` process in the middle of 10 concurrent chatty runs, then a
// restart on the same data dir: every run ends SUCCESS, seqs are 1..N without gaps or
// duplicates, each run worker was spawned exactly once, and the stored compute logs are
// byte-identical to what the processes wrote.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SPOOL_FILES } from '../../../src/shared/run-events.js';
import { testTemporal } from '../../support/temporal.js';
import { freePort } from '../../../src/shared/net.js';
import { HELLO_MODULE, agentOutput, spawnAgentProcess, startStack, type Stack } from '../../support/stack.js';
import { until } from '../../support/wait.js';

const t = await testTemporal();
const RUNS = 10;
const EVENTS_PER_RUN = 4_000;

let stack: Stack;
let agent: ChildProcess | undefined;
let metricsPort: number;
const outputs: string[][] = [];

async function stopAgent(): Promise<void> {
  const child = agent;
  agent = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  await exited;
  clearTimeout(timer);
}

before(async () => {
  stack = await startStack({ temporalAddress: t.address });
  metricsPort = await freePort();
  agent = await spawnAgentProcess(stack, ['--metrics-port', String(metricsPort)]);
  outputs.push(agentOutput.get(agent)!);
  await stack.deploy('hello', HELLO_MODULE);
});
after(async () => {
  await stopAgent();
  await stack?.close();
});

test('kill -9 of the agent mid-run loses, repeats and duplicates nothing', async () => {
  const ids: string[] = [];
  for (let i = 0; i < RUNS; i++) ids.push(await stack.launch('chatty', { events: EVENTS_PER_RUN }));

  // Kill once runs are under way (some started, not all finished).
  await until(
    'runs in flight',
    async () => {
      const statuses = await Promise.all(
        ids.map(
          async (id) =>
            (await stack.gql<{ run: { status: string } }>(`query($id: ID!) { run(id: $id) { status } }`, { id })).run
              .status,
        ),
      );
      return statuses.some((s) => s === 'STARTED' || s === 'STARTING') ? statuses : undefined;
    },
    120_000,
    50,
  );
  const victim = agent!;
  const dead = new Promise((r) => victim.once('exit', r));
  victim.kill('SIGKILL');
  await dead;
  agent = await spawnAgentProcess(stack);
  outputs.push(agentOutput.get(agent)!);

  const runsDir = join(stack.dataDir, 'agent', 'runs');
  for (const id of ids) {
    const run = await stack.waitRun(id, ['SUCCESS', 'FAILURE', 'CANCELED'], 300_000);
    assert.equal(run.status, 'SUCCESS', `run ${id}`);
    assert.deepEqual(
      run.events.map((e) => e.seq),
      Array.from({ length: run.events.length }, (_, i) => i + 1),
      `run ${id}: public seqs 1..N`,
    );
    const own = run.events.flatMap((e) => (e.workerSeq === null ? [] : [e.workerSeq]));
    assert.deepEqual(
      own,
      Array.from({ length: own.length }, (_, i) => i + 1),
      `run ${id}: seqs 1..N`,
    );
    const spooled = readFileSync(join(runsDir, id, 'spool', SPOOL_FILES.events), 'utf8')
      .split('\n')
      .filter(Boolean);
    assert.equal(own.length, spooled.length, `run ${id}: every spooled event stored once`);
    assert.ok(own.length >= EVENTS_PER_RUN, `run ${id}: at least the chatter`);
    const spawns = readFileSync(join(runsDir, id, 'spawns.log'), 'utf8')
      .split('\n')
      .filter(Boolean);
    assert.equal(spawns.length, 1, `run ${id}: spawned exactly once`);
    for (const stream of ['stdout', 'stderr'] as const) {
      const file = readFileSync(
        join(runsDir, id, 'spool', stream === 'stdout' ? SPOOL_FILES.stdout : SPOOL_FILES.stderr),
        'utf8',
      );
      assert.equal(await stack.computeLogs(id, stream), file, `run ${id}: ${stream} byte-identical`);
    }
  }
});

test('the agent serves Prometheus metrics on loopback and never prints its token', async () => {
  // Stop the restarted agent (SIGTERM: a graceful stop), then a fresh one on the same data dir
  // with the metrics port the kill -9'd first agent held.
  await stopAgent();
  const withMetrics = await spawnAgentProcess(stack, ['--metrics-port', String(metricsPort)]);
  outputs.push(agentOutput.get(withMetrics)!);
  try {
    const body = await until('metrics', async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      const text = await res.text();
      return /temporal_/.test(text) ? text : undefined;
    });
    assert.match(body, /temporal_(worker|request|num_pollers|activity)/);
  } finally {
    const exited = new Promise((r) => withMetrics.once('exit', r));
    withMetrics.kill('SIGTERM');
    await exited;
  }
  const printed = outputs.map((o) => o.join('')).join('');
  assert.match(printed, /outpost-host-agent_/, 'the banner names the host task queue');
  assert.ok(!printed.includes(stack.agentToken), 'the token was printed');
});
