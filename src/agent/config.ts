// Agent configuration: one zod schema, filled from flags, then OUTPOST_* variables, then
// defaults (src/shared/config.ts). The token is read from a file or the environment and is
// never printed; `describeConfig` is what the startup banner shows.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { loadConfig, positiveInt, portSchema, type OptionSources } from '../shared/config.js';
import { OutpostError } from '../shared/errors.js';
import { defaultMaxBooting } from './launchers/boot-slots.js';
import { ISOLATION_SETTINGS } from './launchers/sandbox.js';

export const AgentConfigSchema = z.object({
  /** Control-plane base URL. */
  url: z.string().url(),
  /** File holding the agent token (first line). Wins over OUTPOST_AGENT_TOKEN. */
  tokenFile: z.string().optional(),
  temporalAddress: z.string().default('127.0.0.1:7233'),
  temporalNamespace: z.string().default('default'),
  /** Server CA (PEM) for a TLS Temporal frontend. Setting any TLS option enables TLS. */
  temporalTlsCa: z.string().optional(),
  /** Client certificate and key (PEM) for mTLS. */
  temporalTlsCert: z.string().optional(),
  temporalTlsKey: z.string().optional(),
  /** Override the TLS server name (SNI). */
  temporalTlsServerName: z.string().optional(),
  /** Shared task queue every agent polls for workflows and shared activities. */
  taskQueue: z.string().default('outpost-agent'),
  /** State: the agent id, run directories (spool, pid records). */
  dataDir: z.string().default('.outpost/agent'),
  /** Work items claimed but not yet started as workflows, at most. */
  maxInFlight: positiveInt.default(16),
  /** Prometheus metrics on 127.0.0.1:<port>/metrics; unset = off. */
  metricsPort: portSchema.optional(),
  /** Agent display name; default the hostname. */
  name: z.string().optional(),
  /**
   * Niceness added to run workers (0-19; default 0 = the agent's own priority). On a host
   * where bursts of run-worker start-ups saturate the cores, a lower priority for user code
   * keeps the agent's heartbeats, shipping and termination on time.
   */
  runWorkerNice: z.coerce.number().int().min(0).max(19).default(0),
  /**
   * Run workers started ahead of time per code-location version (0-8; default 1): a launch
   * hands the run to one that has already booted and imported the location, instead of
   * spawning. Each idle one costs a Node process (~100 MB RSS with tsx).
   */
  warmRunWorkers: z.coerce.number().int().min(0).max(8).default(1),
  /**
   * Run workers booting at once, at most (cold spawns; src/agent/launchers/boot-slots.ts):
   * launches beyond it wait, so a burst of start-ups cannot starve the agent. 0 = no cap;
   * default two per core, at least 4.
   */
  maxBootingRunWorkers: z.coerce.number().int().min(0).max(1024).default(defaultMaxBooting()),
  /**
   * cpu.weight of the run workers' cgroup v2 (1-10000; the agent's is 100), used where the host
   * delegates a cgroup v2 with the cpu controller to the agent (src/agent/launchers/cpu-cgroup.ts);
   * elsewhere the boot cap alone applies. Default 10; 0 = never use cgroups.
   */
  runWorkerCpuWeight: z.coerce.number().int().min(0).max(10_000).default(10),
  /**
   * How user code is kept from the agent's credentials (src/agent/launchers/sandbox.ts):
   * `bubblewrap` (fail at start if unusable), `none`, or `auto` (default: bubblewrap when this
   * host allows it, else none with a loud warning).
   */
  isolation: z.enum(ISOLATION_SETTINGS).default('auto'),
  /**
   * Directories (colon-separated) user code may read and write even where isolation hides
   * their parent, e.g. a file sensor's inbox under the data dir. Default none.
   */
  isolationExpose: z.string().optional(),
  /**
   * Hours a finished run's directory (spool, pid records) stays on this host after its last write,
   * once the control plane stores all its events and logs (src/agent/spool-retention.ts).
   * Default 24; 0 = never delete.
   */
  spoolRetentionHours: z.coerce.number().min(0).max(100_000).default(24),
});
export type AgentConfig = z.output<typeof AgentConfigSchema>;

export const AGENT_OPTION_SOURCES: OptionSources<z.input<typeof AgentConfigSchema>> = {
  url: { flag: '--url', env: 'OUTPOST_URL' },
  tokenFile: { flag: '--token-file', env: 'OUTPOST_AGENT_TOKEN_FILE' },
  temporalAddress: { flag: '--temporal-address', env: 'OUTPOST_TEMPORAL_ADDRESS' },
  temporalNamespace: { flag: '--temporal-namespace', env: 'OUTPOST_TEMPORAL_NAMESPACE' },
  temporalTlsCa: { flag: '--temporal-tls-ca', env: 'OUTPOST_TEMPORAL_TLS_CA' },
  temporalTlsCert: { flag: '--temporal-tls-cert', env: 'OUTPOST_TEMPORAL_TLS_CERT' },
  temporalTlsKey: { flag: '--temporal-tls-key', env: 'OUTPOST_TEMPORAL_TLS_KEY' },
  temporalTlsServerName: { flag: '--temporal-tls-server-name', env: 'OUTPOST_TEMPORAL_TLS_SERVER_NAME' },
  taskQueue: { flag: '--task-queue', env: 'OUTPOST_TASK_QUEUE' },
  dataDir: { flag: '--data-dir', env: 'OUTPOST_AGENT_DATA_DIR' },
  maxInFlight: { flag: '--max-in-flight', env: 'OUTPOST_AGENT_MAX_IN_FLIGHT' },
  metricsPort: { flag: '--metrics-port', env: 'OUTPOST_AGENT_METRICS_PORT' },
  name: { flag: '--name', env: 'OUTPOST_AGENT_NAME' },
  runWorkerNice: { flag: '--run-worker-nice', env: 'OUTPOST_AGENT_RUN_WORKER_NICE' },
  warmRunWorkers: { flag: '--warm-run-workers', env: 'OUTPOST_AGENT_WARM_RUN_WORKERS' },
  maxBootingRunWorkers: { flag: '--max-booting-run-workers', env: 'OUTPOST_AGENT_MAX_BOOTING_RUN_WORKERS' },
  runWorkerCpuWeight: { flag: '--run-worker-cpu-weight', env: 'OUTPOST_AGENT_RUN_WORKER_CPU_WEIGHT' },
  isolation: { flag: '--isolation', env: 'OUTPOST_AGENT_ISOLATION' },
  isolationExpose: { flag: '--isolation-expose', env: 'OUTPOST_AGENT_ISOLATION_EXPOSE' },
  spoolRetentionHours: { flag: '--spool-retention-hours', env: 'OUTPOST_AGENT_SPOOL_RETENTION_HOURS' },
};

export function loadAgentConfig(
  flags: Partial<Record<keyof z.input<typeof AgentConfigSchema>, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
): AgentConfig {
  const cfg = loadConfig(AgentConfigSchema, AGENT_OPTION_SOURCES, flags, env);
  return { ...cfg, dataDir: resolve(cfg.dataDir) };
}

/** The agent token: --token-file / OUTPOST_AGENT_TOKEN_FILE, else OUTPOST_AGENT_TOKEN. */
export function readAgentToken(cfg: Pick<AgentConfig, 'tokenFile'>, env: NodeJS.ProcessEnv = process.env): string {
  if (cfg.tokenFile) {
    let text: string;
    try {
      text = readFileSync(cfg.tokenFile, 'utf8');
    } catch (err) {
      throw new OutpostError('CONFIG_INVALID', {
        detail: `--token-file ${cfg.tokenFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      });
    }
    const token = text.split('\n')[0]?.trim() ?? '';
    if (!token) throw new OutpostError('CONFIG_INVALID', { detail: `--token-file ${cfg.tokenFile} is empty` });
    return token;
  }
  const token = env.OUTPOST_AGENT_TOKEN?.trim();
  if (!token) {
    throw new OutpostError('CONFIG_INVALID', {
      detail: 'no agent token: pass --token-file <path> or set OUTPOST_AGENT_TOKEN',
    });
  }
  return token;
}

/** Temporal TLS settings, or undefined for plaintext (the dev server). */
export function temporalTls(
  cfg: AgentConfig,
):
  | { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } }
  | undefined {
  const { temporalTlsCa: ca, temporalTlsCert: cert, temporalTlsKey: key, temporalTlsServerName: sni } = cfg;
  if (!ca && !cert && !key && !sni) return undefined;
  if (Boolean(cert) !== Boolean(key)) {
    throw new OutpostError('CONFIG_INVALID', {
      detail: '--temporal-tls-cert and --temporal-tls-key must be given together',
    });
  }
  return {
    ...(sni ? { serverNameOverride: sni } : {}),
    ...(ca ? { serverRootCACertificate: readFileSync(ca) } : {}),
    ...(cert && key ? { clientCertPair: { crt: readFileSync(cert), key: readFileSync(key) } } : {}),
  };
}
