// Idle footprint: RSS of `outpost control-plane` and `outpost agent` as real processes, idle
// after the example location is deployed (so the agent holds its Temporal workers, poller and
// one code server). The code server and the warm standby run worker (the agent's default
// --warm-run-workers 1) are reported apart: they are user-code processes, not the agent.
//   npx tsx bench/footprint.ts [--quick]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startDevServer } from '../src/shared/temporal-dev-server.js';
import { AgentProcess, ControlPlaneProcess } from '../test/support/outpost-processes.js';
import { sleep, until } from '../test/support/wait.js';
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

function isStandby(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('run-worker-standby');
  } catch {
    return false;
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
    const sb: number[] = [];
    const cpu0 = { agent: cpuMs(agentPid), cp: cpuMs(cpPid) };
    const t0 = Date.now();
    for (let i = 0; i < SAMPLES; i++) {
      a.push(rssMb(agentPid));
      c.push(rssMb(cpPid));
      // The agent's children: code servers and idle standby run workers (no runs are going).
      const kids = childPids(agentPid);
      cs.push(kids.filter((pid) => !isStandby(pid)).reduce((sum, pid) => sum + rssMb(pid), 0));
      sb.push(kids.filter(isStandby).reduce((sum, pid) => sum + rssMb(pid), 0));
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
      {
        name: 'warm standby run worker (examples/hello) RSS',
        value: mean(sb),
        unit: 'MB',
        note: 'node + tsx + the location imported, waiting for a run; --warm-run-workers 0 removes it',
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
