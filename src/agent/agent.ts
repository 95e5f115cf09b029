// One agent process: registers with the control plane, heartbeats, reconciles code servers,
// runs the Temporal workers and the poller (or only one side, for scale-out), and stops
// cleanly on SIGTERM. The agent's own parts are built here; the Temporal code (workflows and
// the activities built from these parts) is handed in by the composition root
// (src/cli/agent-root.ts), so this module imports neither.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel, type Worker } from '@temporalio/worker';
import type { Logger } from '../shared/logger.js';
import type { LaunchHandle } from '../shared/launch.js';
import type { RunStatus } from '../shared/run-status.js';
import type { CodeLocationSpec, WorkItemPayload } from '../shared/work-items.js';
import { hostTaskQueue } from './agent-identity.js';
import { register } from './register-agent.js';
import { CodeServerManager } from './code-server-manager.js';
import { dagsterSocketRoot } from './dagster/dagster-code-server.js';
import { temporalTls, type AgentConfig } from './config.js';
import { createControlPlaneClient, type ControlPlaneClient, type RunCursor } from './control-plane-client.js';
import { startHeartbeat } from './heartbeat.js';
import { startSpoolRetention } from './spool-retention.js';
import { resolveRunWorkerCpu } from './launchers/cpu-cgroup.js';
import { ProcessLauncher } from './launchers/process-launcher.js';
import { credentialDirs, resolveIsolation, type Isolation } from './launchers/sandbox.js';
import { nodeCaStore } from './launchers/node-ca.js';
import { checkSearchAttributes } from './search-attribute-check.js';
import { connectWithin, whenTemporalAnswers } from './temporal-reach.js';
import { Poller } from './poller.js';
import { LaunchChecks } from './launch-checks.js';
import { LaunchAhead } from './launch-ahead.js';
import { runWorkflowOpen } from './run-workflow-open.js';
import { createAgentWorkers } from './worker.js';

export { AGENT_VERSION } from './register-agent.js';
/** A launch's outcome as the launch activities report it (activities/ports.ts checks the match). */
type LaunchOutcome = { launched: LaunchHandle } | { skipped: RunStatus };
export type AgentMode = 'all' | 'worker' | 'poller';

/** The agent's parts the activities are built from (by the composition root). */
export interface AgentParts {
  controlPlane: ControlPlaneClient;
  codeServers: CodeServerManager;
  launcher: ProcessLauncher;
  /** The agent's id (known after registerAgent). */
  agentId: () => string;
  hostTaskQueue: string;
  logger: Logger;
  /** Pre-launch checks the poller asked for when it claimed a launch (`all` mode). */
  launchChecks?: LaunchChecks;
  /** Launches the poller begins ahead of their run workflow's first task (`all` mode). */
  launchAhead?: LaunchAhead<WorkItemPayload<'LAUNCH_RUN'>, LaunchOutcome>;
  /** Whether a run's workflow is still open in Temporal (undefined: could not tell). */
  runWorkflowOpen?: (runId: string) => Promise<boolean | undefined>;
}

/** The Temporal code this agent's workers run. */
export interface TemporalCode {
  /** Module exporting every workflow type (the worker's workflowsPath). */
  workflowsPath: string;
  /** A prebuilt bundle of those workflows (scripts/build.mjs); when set, the worker loads it. */
  workflowBundlePath?: string;
  /** Every activity, by name, built from the agent's parts. */
  activities(parts: AgentParts): object;
}

export interface StartAgentOptions {
  config: AgentConfig;
  /** Workflows and activities (see src/cli/agent-root.ts). */
  temporal: TemporalCode;
  token: string;
  logger: Logger;
  mode?: AgentMode;
  /** Base environment for children (credentials are stripped regardless). */
  env?: NodeJS.ProcessEnv;
}

export interface RunningAgent {
  agentId: string;
  hostTaskQueue: string;
  controlPlane: ControlPlaneClient;
  launcher: ProcessLauncher;
  /** How user code is kept from the agent's credentials, and a warning when it is not. */
  isolation: { kind: Isolation['kind']; summary: string; warning?: string };
  /** What keeps a burst of run workers from starving the agent: the boot cap and the cgroup, or why none. */
  runWorkerCpu: string;
  /** Graceful stop: poller first, then workers (in-flight activities get the grace time), code servers last. */
  stop(): Promise<void>;
  /** Settles when the agent stopped, or rejects when a worker crashed. */
  done: Promise<void>;
  /** Workflows its poller started that Temporal started eagerly on this process's worker (tests, benchmarks). */
  eagerStarts(): number;
  /** Launches its poller began ahead of the first workflow task, and how many a launch activity joined (tests, benchmarks). */
  launchesAhead(): { begun: number; joined: number };
}

let runtimeInstalled = false;
const HOUR_MS = 3_600_000;
/** How often finished runs' directories are looked at (or each retention period, when shorter). */
const RETENTION_SWEEP_MS = 10 * 60_000;

/**
 * `connect()`ed once Temporal answers (tried again while it is away, until `signal` aborts), and,
 * when `checkAttributes`, checked for Outpost's search attributes: a namespace the poller could
 * start nothing in stops the agent's start here, its connection closed. The workers' connection
 * and the poller's own one (`poller` mode) both come from here.
 */
async function reachTemporal<C extends Connection | NativeConnection>(
  { config, log, signal }: { config: AgentConfig; log: Logger; signal: AbortSignal },
  connect: () => Promise<C>,
  checkAttributes: boolean,
): Promise<C> {
  const address = config.temporalAddress;
  return whenTemporalAnswers(
    address,
    async () => {
      const c = await connectWithin(address, connect, (c) => c.close());
      if (checkAttributes) {
        await checkSearchAttributes(c, config.temporalNamespace, log, address).catch(async (err: unknown) => {
          await c.close();
          throw err;
        });
      }
      return c;
    },
    log,
    signal,
  );
}

/** Routes Temporal's own logs into pino, and turns on Prometheus metrics when asked. Once per process. */
function installRuntime(config: AgentConfig, logger: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const temporalLog = logger.child({ component: 'temporal' });
  const sink = (entry: { level: LogLevel; message: string; meta?: Record<string, unknown> }): void => {
    const level =
      entry.level === 'TRACE'
        ? 'trace'
        : entry.level === 'DEBUG'
          ? 'debug'
          : entry.level === 'INFO'
            ? 'info'
            : entry.level === 'WARN'
              ? 'warn'
              : 'error';
    temporalLog[level](entry.meta ?? {}, entry.message);
  };
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN', sink),
      ...(config.metricsPort !== undefined
        ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${config.metricsPort}` } } } }
        : {}),
    });
  } catch (err) {
    // Already installed by the embedding process (tests): keep theirs.
    logger.debug({ err: (err as Error).message }, 'Temporal runtime already installed');
  }
}

export async function startAgent(opts: StartAgentOptions): Promise<RunningAgent> {
  const { config, logger } = opts;
  const mode = opts.mode ?? 'all';
  installRuntime(config, logger);
  const abort = new AbortController();
  // A 2xx answer from the control plane ends the backoff of a claim that did not reach it (the poller, made below).
  let controlPlaneAnswered = (): void => {};
  const controlPlane = createControlPlaneClient({
    url: config.url,
    token: opts.token,
    onAnswer: () => controlPlaneAnswered(),
  });
  const reg = await register(controlPlane, config, logger, abort.signal);
  const agentId = reg.agentId;
  const hostQueue = hostTaskQueue(agentId);
  const log = logger.child({ agentId });
  const tls = temporalTls(config);
  // Chosen before any user code starts; hidden from it: our data dir, the Dagster code servers'
  // sockets (in the data dir unless its path is too long for a socket) and the directories of
  // our credential files (siblings such as the admin's user.token live there too).
  const dagsterSockets = dagsterSocketRoot(config.dataDir);
  const { isolation, warning } = resolveIsolation(config.isolation, {
    hideDirs: [config.dataDir, dagsterSockets, ...credentialDirs([config.tokenFile])],
    hideFiles: [config.tokenFile, config.temporalTlsKey].filter((f): f is string => Boolean(f)),
    exposeDirs: (config.isolationExpose ?? '').split(':').filter(Boolean),
  });
  if (warning) log.warn({ isolation: isolation.kind }, warning);
  // Only a side that launches runs puts workers in a cgroup (it moves this process too).
  const cpu =
    mode === 'poller'
      ? { isolation, summary: 'no runs launched here' }
      : resolveRunWorkerCpu(isolation, config.runWorkerCpuWeight);
  const runWorkerCpu = `at most ${config.maxBootingRunWorkers || 'any number of'} booting at once; ${cpu.summary}`;
  const secrets = [opts.token];
  // `all` mode: this process launches the runs it claims, so the poller asks for their checks early.
  const launchChecks = mode === 'all' ? new LaunchChecks((runId) => controlPlane.runCursor(agentId, runId)) : undefined;
  const launchAhead = mode === 'all' ? new LaunchAhead<WorkItemPayload<'LAUNCH_RUN'>, LaunchOutcome>() : undefined;

  // Decided once: Outpost's own user-code processes start without paying NODE_EXTRA_CA_CERTS
  // when the agent's certificate store can stand for it exactly (launchers/node-ca.ts).
  const nodeCa = nodeCaStore(config.dataDir, opts.env ?? process.env);
  const launcher = new ProcessLauncher({
    dataDir: config.dataDir,
    ...(nodeCa ? { nodeCa } : {}),
    logger: log,
    nice: config.runWorkerNice,
    // A poller-only agent never launches runs here.
    warmWorkers: mode === 'poller' ? 0 : config.warmRunWorkers,
    maxBooting: config.maxBootingRunWorkers,
    locationVersion: (name) => codeServers.spec(name)?.version,
    isolation: cpu.isolation,
    secrets,
    ...(opts.env ? { env: opts.env } : {}),
  });
  const codeServers = new CodeServerManager({
    controlPlane,
    agentId: () => agentId,
    logger: log,
    // Only the side that runs code servers may reap orphaned ones.
    ...(mode !== 'poller' ? { dataDir: config.dataDir } : {}),
    isolation,
    secrets,
    ...(nodeCa ? { nodeCa } : {}),
    dagster: { socketDir: dagsterSockets },
    ...(opts.env ? { env: opts.env } : {}),
    onLoaded: (name, spec) => {
      if (spec.module) launcher.prewarm({ location: name, module: spec.module, ...locationPlace(spec) });
    },
  });
  const stoppers: Array<() => Promise<void>> = [];
  const running: Promise<void>[] = [];
  let workers: Worker[] = [];
  const reach = { config, log, signal: abort.signal };

  // In `all` mode the poller's client shares the workers' NativeConnection, which lets it start
  // workflows eagerly (the first task comes back in the start response, to this process's worker).
  let workerConnection: NativeConnection | undefined;
  if (mode !== 'poller') {
    // Checked before any code server starts when the poller is in this process too.
    const connection = await reachTemporal(
      reach,
      () => NativeConnection.connect({ address: config.temporalAddress, ...(tls ? { tls } : {}) }),
      mode === 'all',
    );
    workerConnection = connection;
    await codeServers
      .refresh()
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'workspace fetch failed'));
    const activities = opts.temporal.activities({
      controlPlane,
      codeServers,
      launcher,
      agentId: () => agentId,
      hostTaskQueue: hostQueue,
      logger: log,
      ...(launchChecks ? { launchChecks } : {}),
      ...(launchAhead ? { launchAhead } : {}),
      runWorkflowOpen: runWorkflowOpen(new Client({ connection, namespace: config.temporalNamespace })),
    });
    workers = await createAgentWorkers({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      hostTaskQueue: hostQueue,
      activities,
      workflowsPath: opts.temporal.workflowsPath,
      workflowBundlePath: opts.temporal.workflowBundlePath,
    });
    for (const w of workers) running.push(w.run());
    stoppers.push(async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
      await connection.close();
    });
  }

  let poller: Poller | undefined;
  if (mode !== 'worker') {
    const own = workerConnection
      ? undefined
      : await reachTemporal(
          reach,
          () => Connection.connect({ address: config.temporalAddress, ...(tls ? { tls } : {}) }),
          true,
        );
    const client = new Client({ connection: workerConnection ?? own!, namespace: config.temporalNamespace });
    poller = new Poller({
      controlPlane,
      temporal: client,
      agentId,
      taskQueue: config.taskQueue,
      maxInFlight: config.maxInFlight,
      logger: log,
      temporalAddress: config.temporalAddress,
      eagerStart: workerConnection !== undefined,
      // In `all` mode this process also hosts runs: the runs it claims are launched here.
      ...(mode === 'all'
        ? {
            hostTaskQueue: hostQueue,
            terminateLocally: (runId: string) => launcher.requestTermination(runId),
            ...(launchChecks
              ? { prefetchLaunch: (runId: string, cursor?: RunCursor) => launchChecks.prefetch(runId, cursor) }
              : {}),
            ...(launchAhead
              ? { launchAhead: (payload: WorkItemPayload<'LAUNCH_RUN'>) => launchAhead.begin(payload) }
              : {}),
          }
        : {}),
    });
    const answered = poller;
    controlPlaneAnswered = () => answered.controlPlaneAnswered();
    const polling = poller.run(abort.signal);
    // The poller stops first so no new workflow starts while workers drain.
    stoppers.unshift(async () => {
      abort.abort();
      await polling;
      // The shared NativeConnection is closed by the workers' stopper, after they drain.
      await own?.close();
    });
  }

  // Liveness goes out from a thread of its own (see heartbeat.ts); the main thread only keeps
  // the reported status current and reconciles code servers on the same interval.
  const intervalMs = Math.max(1_000, reg.heartbeatIntervalMs);
  const heartbeat = startHeartbeat({
    url: config.url,
    token: opts.token,
    intervalMs,
    state: () => ({ agentId, codeServers: codeServers.statuses(), runningRunIds: launcher.running() }),
    logger: log,
    onBeat: () => controlPlaneAnswered(),
  });
  const reconcile = async (): Promise<void> => {
    try {
      if (mode !== 'poller') await codeServers.refresh();
      heartbeat.refresh();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'code location refresh failed');
    }
  };
  const timer = setInterval(() => void reconcile(), intervalMs);
  // Finished runs' spools go once stored and past their retention (spool-retention.ts).
  const retentionMs = config.spoolRetentionHours * HOUR_MS;
  const retention =
    mode !== 'poller' && retentionMs > 0
      ? startSpoolRetention({
          dataDir: config.dataDir,
          retentionMs,
          everyMs: Math.min(retentionMs, RETENTION_SWEEP_MS),
          controlPlane,
          agentId: () => agentId,
          busy: (runId) => launcher.busy(runId),
          now: Date.now,
          logger: log,
        })
      : undefined;

  log.info(
    {
      mode,
      controlPlane: config.url,
      temporal: `${config.temporalAddress} (namespace ${config.temporalNamespace}${tls ? ', TLS' : ''})`,
      taskQueue: config.taskQueue,
      hostTaskQueue: hostQueue,
      dataDir: config.dataDir,
      isolation: isolation.summary,
      runWorkerCpu,
      metrics: config.metricsPort !== undefined ? `http://127.0.0.1:${config.metricsPort}/metrics` : 'off',
    },
    'OUTPOST_AGENT_READY',
  );

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log.info('agent stopping');
      abort.abort();
      clearInterval(timer);
      await retention?.stop();
      await heartbeat.stop();
      for (const s of stoppers) await s();
      launcher.stop();
      await codeServers.stop();
      log.info('agent stopped');
    })();
    return stopping;
  };
  const done = Promise.all(running).then(() => undefined);
  return {
    agentId,
    hostTaskQueue: hostQueue,
    controlPlane,
    launcher,
    isolation: { kind: isolation.kind, summary: isolation.summary, ...(warning ? { warning } : {}) },
    runWorkerCpu,
    stop,
    done,
    eagerStarts: () => poller?.eagerStarts ?? 0,
    launchesAhead: () => ({ begun: launchAhead?.begun ?? 0, joined: launchAhead?.joined ?? 0 }),
  };
}

/** Where a location's run workers start: its working directory and extra environment. */
function locationPlace(spec: CodeLocationSpec): { cwd?: string; env?: Record<string, string> } {
  return {
    ...(spec.workingDirectory ? { cwd: spec.workingDirectory } : {}),
    ...(spec.env ? { env: spec.env } : {}),
  };
}
