// `outpost agent [all|worker|poller]`: the Temporal-backed agent. `all` (default) runs the
// poller and the workers in one process; `worker` and `poller` run one side each, for scale-out.
import type { Command } from 'commander';
import type { AgentMode } from '../../agent/agent.js';
import { loadAgentConfig, readAgentToken } from '../../agent/config.js';
import { OutpostError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { startOutpostAgent } from '../agent-root.js';

interface AgentFlags {
  url?: string;
  tokenFile?: string;
  temporalAddress?: string;
  temporalNamespace?: string;
  temporalTlsCa?: string;
  temporalTlsCert?: string;
  temporalTlsKey?: string;
  temporalTlsServerName?: string;
  taskQueue?: string;
  dataDir?: string;
  maxInFlight?: string;
  metricsPort?: string;
  name?: string;
  runWorkerNice?: string;
  warmRunWorkers?: string;
  maxBootingRunWorkers?: string;
  runWorkerCpuWeight?: string;
  isolation?: string;
  isolationExpose?: string;
  spoolRetentionHours?: string;
}

const MODES: readonly AgentMode[] = ['all', 'worker', 'poller'];

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('Run the agent: claim work from the control plane and process it with Temporal workflows')
    .argument(
      '[mode]',
      'all (poller + workers), worker (Temporal workers only) or poller (claim and start only)',
      'all',
    )
    .option('--url <url>', 'control-plane base URL (env OUTPOST_URL)')
    .option(
      '--token-file <path>',
      'file holding the agent token (env OUTPOST_AGENT_TOKEN_FILE; else OUTPOST_AGENT_TOKEN)',
    )
    .option(
      '--temporal-address <host:port>',
      'Temporal frontend (env OUTPOST_TEMPORAL_ADDRESS; default 127.0.0.1:7233)',
    )
    .option('--temporal-namespace <ns>', 'Temporal namespace (env OUTPOST_TEMPORAL_NAMESPACE; default "default")')
    .option('--temporal-tls-ca <pem>', 'CA certificate for a TLS Temporal frontend (env OUTPOST_TEMPORAL_TLS_CA)')
    .option('--temporal-tls-cert <pem>', 'client certificate for mTLS (env OUTPOST_TEMPORAL_TLS_CERT)')
    .option('--temporal-tls-key <pem>', 'client key for mTLS (env OUTPOST_TEMPORAL_TLS_KEY)')
    .option('--temporal-tls-server-name <name>', 'TLS server name override (env OUTPOST_TEMPORAL_TLS_SERVER_NAME)')
    .option('--task-queue <name>', 'shared task queue of all agents (env OUTPOST_TASK_QUEUE; default outpost-agent)')
    .option(
      '--data-dir <dir>',
      'agent state: id, run spools, pid records (env OUTPOST_AGENT_DATA_DIR; default .outpost/agent)',
    )
    .option(
      '--max-in-flight <n>',
      'claimed work items not yet started, at most (env OUTPOST_AGENT_MAX_IN_FLIGHT; default 16)',
    )
    .option(
      '--metrics-port <port>',
      'Prometheus metrics on 127.0.0.1:<port>/metrics (env OUTPOST_AGENT_METRICS_PORT; default off)',
    )
    .option('--name <name>', 'display name (env OUTPOST_AGENT_NAME; default the hostname)')
    .option(
      '--run-worker-nice <n>',
      'niceness added to run workers, 0-19, so the agent stays responsive (env OUTPOST_AGENT_RUN_WORKER_NICE; default 0)',
    )
    .option(
      '--warm-run-workers <n>',
      'run workers kept booted per code location, 0-8, so launches skip process start (env OUTPOST_AGENT_WARM_RUN_WORKERS; default 1)',
    )
    .option(
      '--max-booting-run-workers <n>',
      'run workers starting up at once, at most; further launches wait their turn, so a burst cannot starve the agent; 0 = no cap (env OUTPOST_AGENT_MAX_BOOTING_RUN_WORKERS; default two per core, at least 4)',
    )
    .option(
      '--run-worker-cpu-weight <w>',
      "cpu.weight of the run workers' cgroup v2 where the host delegates one (the agent's is 100), else only the boot cap applies; 0 = never (env OUTPOST_AGENT_RUN_WORKER_CPU_WEIGHT; default 10)",
    )
    .option(
      '--isolation <mode>',
      'keep user code from the agent credentials: auto, bubblewrap or none (env OUTPOST_AGENT_ISOLATION; default auto = bubblewrap when usable)',
    )
    .option(
      '--isolation-expose <dirs>',
      'colon-separated directories user code may use even inside hidden ones, e.g. a sensor inbox (env OUTPOST_AGENT_ISOLATION_EXPOSE)',
    )
    .option(
      '--spool-retention-hours <h>',
      "hours a finished run's spool stays after its last write, once the control plane stores all its events and logs; 0 = keep for ever (env OUTPOST_AGENT_SPOOL_RETENTION_HOURS; default 24)",
    )
    .action(async (mode: string, flags: AgentFlags) => {
      if (!(MODES as readonly string[]).includes(mode)) {
        throw new OutpostError('CONFIG_INVALID', {
          detail: `agent mode must be one of ${MODES.join(', ')}, got ${mode}`,
        });
      }
      const config = loadAgentConfig(flags);
      const token = readAgentToken(config);
      // Read once; not kept in this process's environment for anything spawned later.
      delete process.env.OUTPOST_AGENT_TOKEN;
      // The agent's children (code servers, run workers, standbys) inherit its environment:
      // two malloc arenas each unless the deployment chose otherwise. This process itself gets
      // it only from whoever started it (glibc reads it at start): the bin, `outpost dev`, the image.
      process.env.MALLOC_ARENA_MAX ??= '2';
      const logger = createLogger({ name: 'agent' });
      const agent = await startOutpostAgent({ config, token, logger, mode: mode as AgentMode });
      // No idle collection here (shared/idle-collect.ts), unlike the control plane and code
      // servers: in two runs of three, an agent whose young generation was given back paid ~25 ms
      // more CPU per run (its GC threads) in the 200-run burst that followed (bench/README.md,
      // round 15).
      process.stderr.write(
        [
          `outpost agent ${agent.agentId} (${mode})`,
          `  control plane:  ${config.url}`,
          `  temporal:       ${config.temporalAddress} namespace ${config.temporalNamespace}`,
          `  task queues:    ${config.taskQueue} (shared), ${agent.hostTaskQueue} (this host)`,
          `  data dir:       ${config.dataDir}`,
          `  metrics:        ${config.metricsPort !== undefined ? `http://127.0.0.1:${config.metricsPort}/metrics` : 'off'}`,
          `  isolation:      ${agent.isolation.summary}`,
          `  run workers:    ${agent.runWorkerCpu}`,
          ...(agent.isolation.warning ? ['', `  !!! WARNING: ${agent.isolation.warning}`, ''] : []),
          '',
        ].join('\n'),
      );
      let stopping = false;
      const stop = (sig: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal: sig }, 'shutting down');
        agent.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      try {
        await agent.done;
      } catch (err) {
        logger.error({ err }, 'a Temporal worker stopped with an error');
        process.exit(1);
      }
      // Workers only stop on their own when something is badly wrong: never idle on without them.
      if (!stopping && mode !== 'poller') {
        logger.error('the Temporal workers stopped unexpectedly');
        process.exit(1);
      }
    });
}
