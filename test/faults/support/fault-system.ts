// One real Outpost system for a fault-suite file, every part a child process it may kill:
// a dedicated Temporal dev server (SQLite file; restartable on the same file and port),
// `outpost control-plane` (file SQLite; restartable on the same DB and port) and
// `outpost agent`, optionally reaching the control plane through an AgentApiGate. It deploys
// the given code locations, and on stop leaves no process or temp directory behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listRecordedProcesses, signalRecordedGroup } from '../../../src/agent/launchers/run-records.js';
import { startDevServer, type DevServer } from '../../../src/shared/temporal-dev-server.js';
import { AgentApiGate } from './agent-api-gate.js';
import { AgentProcess, ControlPlaneProcess } from '../../support/outpost-processes.js';
import { until } from '../../support/wait.js';

export interface FaultSystemOptions {
  /** Extra `outpost control-plane` flags (log cap, lease, ...). */
  controlPlaneArgs: string[];
  /** Extra `outpost agent` flags. */
  agentArgs?: string[];
  /** Route the agent's calls through an AgentApiGate (pass-through until a hold is set). */
  gate?: boolean;
  /** The control plane's database; default a SQLite file. */
  databaseUrl?: string;
  /** Keep the agent's log (info level, every life of it) in `agentLogFile`, for cases that read it. */
  agentLog?: boolean;
  /** Code locations to deploy and wait for: name -> module path. */
  locations: Record<string, string>;
}

export class FaultSystem {
  readonly dir = mkdtempSync(join(tmpdir(), 'outpost-faults-'));
  readonly cp: ControlPlaneProcess;
  readonly gate: AgentApiGate | undefined;
  temporal!: DevServer;
  agent!: AgentProcess;
  private temporalPort = 0;

  /** Where the agent's log is kept, if anywhere (FaultSystemOptions.agentLog, OUTPOST_FAULT_AGENT_LOG). */
  get agentLogFile(): string | undefined {
    return process.env.OUTPOST_FAULT_AGENT_LOG ?? (this.opts.agentLog ? join(this.dir, 'agent.log') : undefined);
  }

  constructor(private readonly opts: FaultSystemOptions) {
    this.cp = new ControlPlaneProcess(join(this.dir, 'cp'), opts.controlPlaneArgs, opts.databaseUrl);
    this.gate = opts.gate ? new AgentApiGate(() => this.cp.url) : undefined;
  }

  async start(): Promise<void> {
    // If the runner kills this file (its timeout), after() never runs: leave nothing behind.
    process.once('exit', this.killAllNow);
    process.once('SIGTERM', exitOnSignal);
    process.once('SIGINT', exitOnSignal);
    await this.startTemporal();
    await this.cp.start();
    await this.gate?.start();
    const tokenFile = await this.cp.agentTokenFile();
    this.agent = new AgentProcess({
      url: () => this.gate?.url ?? this.cp.url,
      tokenFile,
      temporalAddress: this.temporal.address,
      taskQueue: 'faults',
      dataDir: join(this.dir, 'agent'),
      extraArgs: this.opts.agentArgs ?? [],
      // A diagnostic: OUTPOST_FAULT_AGENT_LOG=<file> keeps the agent's log (info level) there.
      ...(this.agentLogFile ? { logFile: this.agentLogFile } : {}),
    });
    await this.agent.start();
    for (const [name, module] of Object.entries(this.opts.locations)) await this.deploy(name, module);
  }

  /** Starts the dev server, on the port of the previous one after a kill. */
  async startTemporal(): Promise<void> {
    this.temporal = await startDevServer({
      dbFile: join(this.dir, 'temporal.db'),
      ...(this.temporalPort ? { port: this.temporalPort } : {}),
    });
    this.temporalPort = Number(this.temporal.address.split(':')[1]);
  }

  get temporalPortNumber(): number {
    return this.temporalPort;
  }

  async deploy(name: string, module: string): Promise<void> {
    await this.cp.gql(`mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`, {
      i: { name, module },
    });
    await until(`${name} loaded`, async () => {
      const r = await this.cp.gql<{ codeLocation: { status: string } }>(
        `query($n: String!) { codeLocation(name: $n) { status } }`,
        { n: name },
      );
      return r.codeLocation.status === 'LOADED';
    });
  }

  private readonly killAllNow = (): void => {
    for (const child of [this.agent?.child, this.cp.child, this.temporal?.process]) {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    killLeftoverWorkers(join(this.dir, 'agent'));
    rmSync(this.dir, { recursive: true, force: true });
  };

  async stop(): Promise<void> {
    process.off('exit', this.killAllNow);
    process.off('SIGTERM', exitOnSignal);
    process.off('SIGINT', exitOnSignal);
    killLeftoverWorkers(join(this.dir, 'agent'));
    await this.agent?.stop();
    // A run a schedule asked for can start while the agent drains: leave none behind.
    killLeftoverWorkers(join(this.dir, 'agent'));
    await this.gate?.stop();
    await this.cp.stop();
    await this.temporal?.stop();
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

function exitOnSignal(signal: NodeJS.Signals): void {
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** SIGKILLs the process group of any run worker or standby of ours still alive (never leave one behind). */
function killLeftoverWorkers(agentDataDir: string): void {
  for (const p of listRecordedProcesses(agentDataDir)) signalRecordedGroup(p.record, 'SIGKILL');
}
