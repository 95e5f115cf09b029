// Idle footprint: RSS of `outpost control-plane` and `outpost agent` as real processes, idle
// after the example location is deployed (so the agent holds its Temporal workers, poller and
// one code server). The code server is reported apart: it is user code, not the agent.
//   npx tsx bench/footprint.ts [--quick]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDevServer } from '../src/shared/temporal-dev-server.js';
import { AgentProcess, ControlPlaneProcess, sleep, until } from '../test/faults/support/system.js';
import { cpuMs, rssMb } from './support/stack.js';
import { isQuick, report, type Figure } from './support/report.js';

const quick = isQuick();
const SETTLE_MS = quick ? 5_000 : 30_000;
const SAMPLES = quick ? 5 : 20;

function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-footprint-'));
  const temporal = await startDevServer();
  const cp = new ControlPlaneProcess(join(dir, 'cp'), ['--no-daemon']);
  let agent: AgentProcess | undefined;
  try {
    await cp.start();
    const tokenFile = await cp.agentTokenFile();
    agent = new AgentProcess({
      url: () => cp.url,
      tokenFile,
      temporalAddress: temporal.address,
      taskQueue: 'bench-footprint',
      dataDir: join(dir, 'agent'),
    });
    await agent.start();
    await cp.gql(`mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`, {
      i: { name: 'hello', module: resolve('examples/hello/definitions.ts') },
    });
    await until('hello loaded', async () => {
      const r = await cp.gql<{ codeLocation: { status: string } }>(`{ codeLocation(name: "hello") { status } }`);
      return r.codeLocation.status === 'LOADED';
    });
    await sleep(SETTLE_MS);
    const agentPid = agent.child!.pid!;
    const cpPid = cp.child!.pid!;
    const a: number[] = [];
    const c: number[] = [];
    const cs: number[] = [];
    const cpu0 = { agent: cpuMs(agentPid), cp: cpuMs(cpPid) };
    const t0 = Date.now();
    for (let i = 0; i < SAMPLES; i++) {
      a.push(rssMb(agentPid));
      c.push(rssMb(cpPid));
      // The agent's children are code servers (run workers are detached, and there are none).
      cs.push(childPids(agentPid).reduce((sum, pid) => sum + rssMb(pid), 0));
      await sleep(1_000);
    }
    const secs = (Date.now() - t0) / 1000;
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    const figures: Figure[] = [
      { name: 'agent idle RSS', value: mean(a), unit: 'MB', note: `mean of ${SAMPLES} samples, 1 location deployed` },
      { name: 'agent idle RSS max', value: Math.max(...a), unit: 'MB' },
      {
        name: 'agent idle CPU',
        value: ((cpuMs(agentPid) - cpu0.agent) / (secs * 1000)) * 100,
        unit: '% of a core',
        note: 'long-poll + heartbeats + Temporal pollers',
      },
      { name: 'control plane idle RSS', value: mean(c), unit: 'MB', note: 'SQLite, no daemon' },
      { name: 'control plane idle CPU', value: ((cpuMs(cpPid) - cpu0.cp) / (secs * 1000)) * 100, unit: '% of a core' },
      {
        name: 'code server (examples/hello) RSS',
        value: mean(cs),
        unit: 'MB',
        note: 'user code process, not the agent',
      },
    ];
    report('footprint', { quick, settleMs: SETTLE_MS, samples: SAMPLES }, figures);
  } finally {
    await agent?.stop();
    await cp.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
