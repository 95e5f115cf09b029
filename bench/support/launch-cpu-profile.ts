// Control-plane and Temporal CPU per run, with a V8 profile of the control plane: N `noop`
// launches back to back as the dispatch burst fires them (launchRun → RUN_START over SSE → next),
// through an `outpost agent` child (compiled) and the control plane in this process (SQLite).
// Prints CPU per launch of this process (control plane + bench), of the Temporal dev server and of
// the agent (by thread), the requests the control plane served per run, the profile's busy time
// split into the bench's own code and the control plane's, and every run workflow's history
// event counts (what a run costs Temporal).
//   npx tsx bench/support/launch-cpu-profile.ts [--runs N] [--profile out.cpuprofile] [--statements]  (PROF_US: sampling interval)
import { IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { runWorkflowId } from '../../src/shared/workflow-contract.js';
import { runBurst } from './dispatch-burst.js';
import { procTimes } from './proc-cpu.js';
import { threadCpu, threadCpuDelta } from './burst-processes.js';
import { compiledCli, HELLO_MODULE, startBenchSystem } from './stack.js';
import { runMain } from './report.js';
import { countStatements, statementCounts } from './sqlite-statements.js';
import { sleep } from '../../test/support/wait.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const RUNS = Number(arg('--runs') ?? 20);
const profileOut = arg('--profile');
const TERMINAL = ['SUCCESS', 'FAILURE', 'CANCELED'];

// Requests the control plane serves, by route and GraphQL field (snooped off the bodies' data events).
const requests = new Map<string, number>();
let counting = false;
// Called with the message as `this` below.
// eslint-disable-next-line @typescript-eslint/unbound-method
const origEmit = IncomingMessage.prototype.emit;
IncomingMessage.prototype.emit = function (this: IncomingMessage, ev: string, ...args: unknown[]) {
  if (counting && ev === 'data' && this.url) {
    const text = String(args[0]).slice(0, 400);
    const m = /(?:mutation|query|subscription)[^{]*\{(?:\\n|\s)*(\w+)/.exec(text);
    const k = `${this.method} ${this.url.split('?')[0]} ${m?.[1] ?? ''}`;
    requests.set(k, (requests.get(k) ?? 0) + 1);
  } else if (counting && ev === 'end' && this.method === 'GET' && this.url) {
    const k = `${this.method} ${this.url.split('?')[0]} ${/runEvents|run\b/.exec(decodeURIComponent(this.url))?.[0] ?? ''}`;
    requests.set(k, (requests.get(k) ?? 0) + 1);
  }
  return origEmit.call(this, ev, ...args);
} as typeof origEmit;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-cprun-'));
  const system = await startBenchSystem({ databaseUrl: `sqlite:${join(dir, 'outpost.db')}` });
  const { stack } = system;
  try {
    const agent = await system.spawnAgent(['--warm-run-workers', '1'], compiledCli());
    await stack.deploy('hello', HELLO_MODULE);
    for (let i = 0; i < 3; i++) await stack.waitRun(await stack.launch('noop'), TERMINAL);
    const sseToken = await stack.cp.issueToken('user', 'bench-cprun-sse', 'VIEWER');
    await sleep(2000);
    const session = new Session();
    session.connect();
    if (profileOut) {
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.PROF_US ?? 250) });
      await session.post('Profiler.start');
    }
    const temporalPid = system.temporal.process.pid!;
    const t0 = procTimes(temporalPid)!.own;
    const a0 = procTimes(agent.pid!)!.own;
    const threads0 = threadCpu(agent.pid!);
    const c0 = process.cpuUsage();
    const w0 = Date.now();
    counting = true;
    if (process.argv.includes('--statements')) countStatements();
    const burst = await runBurst(stack, sseToken, 'noop', RUNS);
    const wall = Date.now() - w0;
    counting = false;
    const statements = statementCounts();
    const c = process.cpuUsage(c0);
    const temporal = procTimes(temporalPid)!.own - t0;
    const agentMs = procTimes(agent.pid!)!.own - a0;
    const agentThreads = threadCpuDelta(threads0, threadCpu(agent.pid!), RUNS);
    if (profileOut) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(profileOut, JSON.stringify(profile));
    }
    const cp = (c.user + c.system) / 1000;
    console.log(
      `runs ${RUNS} wall ${wall} ms; per run: control plane + bench ${(cp / RUNS).toFixed(1)} ms, Temporal ${(temporal / RUNS).toFixed(1)} ms, agent ${(agentMs / RUNS).toFixed(1)} ms; toStart p50 ${[...burst.toStart].sort((x, y) => x - y)[RUNS >> 1]} ms; warm ${burst.warm.filter(Boolean).length}`,
    );
    console.log(`agent by thread (ms per run; 'node' holds the workflow thread, GC and libuv): ${agentThreads}`);
    for (const [k, v] of [...requests].sort()) console.log(`  ${(v / RUNS).toFixed(2)} ${k}`);
    if (statements.length > 0) {
      const all = statements.reduce((a, [, s]) => ({ calls: a.calls + s.calls, ms: a.ms + s.ms }), { calls: 0, ms: 0 });
      console.log(`SQLite statements per run: ${(all.calls / RUNS).toFixed(2)}, ${(all.ms / RUNS).toFixed(2)} ms`);
      for (const [k, s] of statements)
        console.log(`  ${(s.calls / RUNS).toFixed(2)} ${(s.ms / RUNS).toFixed(3)} ms  ${k.slice(0, 160)}`);
    }
    const connection = await Connection.connect({ address: system.temporal.address });
    const client = new Client({ connection });
    const counts = new Map<string, number>();
    for (const t of burst.traces) {
      const h = await client.workflow.getHandle(runWorkflowId(t.runId)).fetchHistory();
      for (const e of h.events ?? []) {
        const k = Object.keys(e).find((x) => x.endsWith('EventAttributes')) ?? String(e.eventType);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    }
    for (const [k, v] of [...counts].sort()) console.log(`  ${(v / RUNS).toFixed(2)} ${k}`);
    await connection.close();
  } finally {
    await system.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
