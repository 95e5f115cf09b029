// `outpost control-plane`: serves the user API, agent API, web UI, health and metrics, and runs
// the schedule/sensor daemon. Flags override OUTPOST_* environment variables, which override defaults.
import type { Command } from 'commander';
import { z } from 'zod';
import { startControlPlane } from '../../control-plane/index.js';
import { collectWhenIdle, takeCollector } from '../../shared/idle-collect.js';
import { boolish, loadConfig, portSchema, positiveInt, type OptionSources } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { DEFAULT_API_LIMITS, LIMIT_SOURCES, type ApiLimits } from '../../control-plane/limits.js';
import { DEFAULT_SKIPPED_TICK_RETENTION_MS, DEFAULT_TICK_RETENTION_MS } from '../../control-plane/store/instigators.js';

const DAY_MS = 86_400_000;

export const ControlPlaneConfigSchema = z.object({
  host: z.string().default('127.0.0.1'),
  port: portSchema.default(3000),
  databaseUrl: z.string().default('sqlite:.outpost/outpost.db'),
  dataDir: z.string().default('.outpost'),
  agentTokenFile: z.string().optional(),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  daemon: boolish.default(true),
  maxBodyBytes: positiveInt.optional(),
  maxUserBodyBytes: positiveInt.optional(),
  maxQueryDepth: positiveInt.optional(),
  maxQueryCost: positiveInt.optional(),
  maxQueryFields: positiveInt.optional(),
  maxQueryTokens: positiveInt.optional(),
  maxMutationsPerRequest: positiveInt.optional(),
  maxResponseBytes: positiveInt.optional(),
  maxRunConfigBytes: positiveInt.optional(),
  maxRunTags: positiveInt.optional(),
  maxRunTagsBytes: positiveInt.optional(),
  maxSubscriptionsPerToken: positiveInt.optional(),
  maxRequestsPerSecondPerToken: positiveInt.optional(),
  maxRequestBurstPerToken: positiveInt.optional(),
  maxEventsPerBatch: positiveInt.optional(),
  maxClaimBatch: positiveInt.optional(),
  computeLogCapBytes: positiveInt.optional(),
  leaseMs: positiveInt.optional(),
  maxAttempts: positiveInt.optional(),
  startingTimeoutMs: positiveInt.optional(),
  launchDeadlineMs: positiveInt.optional(),
  temporalUiUrl: z.string().default('http://127.0.0.1:8233'),
  temporalNamespace: z.string().default('default'),
  moduleRoots: z.string().optional(),
  allowedOrigins: z.string().optional(),
  allowedHosts: z.string().optional(),
  auditRetentionDays: positiveInt.default(90),
  tickRetentionDays: positiveInt.default(DEFAULT_TICK_RETENTION_MS / DAY_MS),
  skippedTickRetentionDays: positiveInt.default(DEFAULT_SKIPPED_TICK_RETENTION_MS / DAY_MS),
});
type Config = z.input<typeof ControlPlaneConfigSchema>;

/** Limits whose flag, environment variable and default are declared once, in limits.ts. */
const NEW_STYLE_LIMITS = [
  'maxUserBodyBytes',
  'maxQueryCost',
  'maxQueryFields',
  'maxQueryTokens',
  'maxMutationsPerRequest',
  'maxResponseBytes',
  'maxRunConfigBytes',
  'maxRunTags',
  'maxRunTagsBytes',
  'maxSubscriptionsPerToken',
  'maxRequestsPerSecondPerToken',
  'maxRequestBurstPerToken',
] as const satisfies readonly (keyof ApiLimits & keyof Config)[];

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;
}

const SOURCES: OptionSources<Config> = {
  host: { flag: '--host', env: 'OUTPOST_HOST' },
  port: { flag: '--port', env: 'OUTPOST_PORT' },
  databaseUrl: { flag: '--database-url', env: 'OUTPOST_DATABASE_URL' },
  dataDir: { flag: '--data-dir', env: 'OUTPOST_DATA_DIR' },
  tlsCert: { flag: '--tls-cert', env: 'OUTPOST_TLS_CERT' },
  tlsKey: { flag: '--tls-key', env: 'OUTPOST_TLS_KEY' },
  daemon: { flag: '--no-daemon', env: 'OUTPOST_DAEMON' },
  maxBodyBytes: { flag: '--max-body-bytes', env: 'OUTPOST_MAX_BODY_BYTES' },
  maxQueryDepth: { flag: '--max-query-depth', env: 'OUTPOST_MAX_QUERY_DEPTH' },
  ...pick(LIMIT_SOURCES, NEW_STYLE_LIMITS),
  maxEventsPerBatch: { flag: '--max-events-per-batch', env: 'OUTPOST_MAX_EVENTS_PER_BATCH' },
  maxClaimBatch: { flag: '--max-claim-batch', env: 'OUTPOST_MAX_CLAIM_BATCH' },
  computeLogCapBytes: { flag: '--compute-log-cap-bytes', env: 'OUTPOST_COMPUTE_LOG_CAP_BYTES' },
  leaseMs: { flag: '--lease-ms', env: 'OUTPOST_LEASE_MS' },
  maxAttempts: { flag: '--max-attempts', env: 'OUTPOST_MAX_ATTEMPTS' },
  startingTimeoutMs: { flag: '--starting-timeout-ms', env: 'OUTPOST_STARTING_TIMEOUT_MS' },
  launchDeadlineMs: { flag: '--launch-deadline-ms', env: 'OUTPOST_LAUNCH_DEADLINE_MS' },
  temporalUiUrl: { flag: '--temporal-ui-url', env: 'OUTPOST_TEMPORAL_UI_URL' },
  temporalNamespace: { flag: '--temporal-namespace', env: 'OUTPOST_TEMPORAL_NAMESPACE' },
  moduleRoots: { flag: '--module-roots', env: 'OUTPOST_MODULE_ROOTS' },
  allowedOrigins: { flag: '--allowed-origins', env: 'OUTPOST_ALLOWED_ORIGINS' },
  allowedHosts: { flag: '--allowed-hosts', env: 'OUTPOST_ALLOWED_HOSTS' },
  auditRetentionDays: { flag: '--audit-retention-days', env: 'OUTPOST_AUDIT_RETENTION_DAYS' },
  tickRetentionDays: { flag: '--tick-retention-days', env: 'OUTPOST_TICK_RETENTION_DAYS' },
  skippedTickRetentionDays: { flag: '--skipped-tick-retention-days', env: 'OUTPOST_SKIPPED_TICK_RETENTION_DAYS' },
};

/** Splits a list flag (`a,b` or the platform's path delimiter) into its non-empty items. */
const list = (v: string | undefined, sep: RegExp): string[] | undefined =>
  v === undefined
    ? undefined
    : v
        .split(sep)
        .map((x) => x.trim())
        .filter(Boolean);

export function registerControlPlaneCommand(program: Command): void {
  program
    .command('control-plane')
    .description('Run the control plane: /graphql (user API, GraphiQL), /agent/graphql, web UI, daemon')
    .option('--host <host>', 'interface to bind (OUTPOST_HOST; default 127.0.0.1)')
    .option('--port <port>', 'HTTP port, 0 = any free port (OUTPOST_PORT; default 3000)')
    .option(
      '--database-url <url>',
      'sqlite:<file> or postgres://... (OUTPOST_DATABASE_URL; default sqlite:.outpost/outpost.db)',
    )
    .option('--data-dir <dir>', 'where the first admin token is written (OUTPOST_DATA_DIR; default .outpost)')
    .option(
      '--agent-token-file <file>',
      'before listening, make this file hold a live agent token, writing a new one if needed (0600)',
    )
    .option('--tls-cert <file>', 'PEM certificate; with --tls-key serves HTTPS (OUTPOST_TLS_CERT)')
    .option('--tls-key <file>', 'PEM private key (OUTPOST_TLS_KEY)')
    .option('--no-daemon', 'do not run the schedule/sensor daemon in this replica (OUTPOST_DAEMON=false)')
    .option('--max-body-bytes <n>', 'largest request body (OUTPOST_MAX_BODY_BYTES; default 16777216)')
    .option(
      '--max-user-body-bytes <n>',
      `largest /graphql request body (OUTPOST_MAX_USER_BODY_BYTES; default ${DEFAULT_API_LIMITS.maxUserBodyBytes})`,
    )
    .option('--max-query-depth <n>', 'deepest GraphQL selection (OUTPOST_MAX_QUERY_DEPTH; default 15)')
    .option(
      '--max-query-cost <n>',
      `largest query cost: fields × list sizes (OUTPOST_MAX_QUERY_COST; default ${DEFAULT_API_LIMITS.maxQueryCost})`,
    )
    .option(
      '--max-query-fields <n>',
      `most fields in a query, aliases included (OUTPOST_MAX_QUERY_FIELDS; default ${DEFAULT_API_LIMITS.maxQueryFields})`,
    )
    .option(
      '--max-query-tokens <n>',
      `most tokens in a GraphQL document (OUTPOST_MAX_QUERY_TOKENS; default ${DEFAULT_API_LIMITS.maxQueryTokens})`,
    )
    .option(
      '--max-mutations-per-request <n>',
      `most mutations in one GraphQL request, aliases included (OUTPOST_MAX_MUTATIONS_PER_REQUEST; default ${DEFAULT_API_LIMITS.maxMutationsPerRequest})`,
    )
    .option(
      '--max-response-bytes <n>',
      `largest GraphQL answer (OUTPOST_MAX_RESPONSE_BYTES; default ${DEFAULT_API_LIMITS.maxResponseBytes})`,
    )
    .option(
      '--max-run-config-bytes <n>',
      `largest launchRun runConfig as JSON (OUTPOST_MAX_RUN_CONFIG_BYTES; default ${DEFAULT_API_LIMITS.maxRunConfigBytes})`,
    )
    .option('--max-run-tags <n>', `most tags on a run (OUTPOST_MAX_RUN_TAGS; default ${DEFAULT_API_LIMITS.maxRunTags})`)
    .option(
      '--max-run-tags-bytes <n>',
      `largest run tags as JSON (OUTPOST_MAX_RUN_TAGS_BYTES; default ${DEFAULT_API_LIMITS.maxRunTagsBytes})`,
    )
    .option(
      '--max-subscriptions-per-token <n>',
      `most runEvents subscriptions open at once per token (OUTPOST_MAX_SUBSCRIPTIONS_PER_TOKEN; default ${DEFAULT_API_LIMITS.maxSubscriptionsPerToken})`,
    )
    .option(
      '--max-requests-per-second-per-token <n>',
      `user-API requests per second per token, each mutation counting one more (OUTPOST_MAX_REQUESTS_PER_SECOND_PER_TOKEN; default ${DEFAULT_API_LIMITS.maxRequestsPerSecondPerToken})`,
    )
    .option(
      '--max-request-burst-per-token <n>',
      `user-API requests a token may send at once (OUTPOST_MAX_REQUEST_BURST_PER_TOKEN; default ${DEFAULT_API_LIMITS.maxRequestBurstPerToken})`,
    )
    .option(
      '--max-events-per-batch <n>',
      'most events per appendRunEvents (OUTPOST_MAX_EVENTS_PER_BATCH; default 10000)',
    )
    .option('--max-claim-batch <n>', 'most items per claimWork (OUTPOST_MAX_CLAIM_BATCH; default 100)')
    .option(
      '--compute-log-cap-bytes <n>',
      'stored compute logs per run (OUTPOST_COMPUTE_LOG_CAP_BYTES; default 52428800)',
    )
    .option('--lease-ms <n>', 'work-item lease (OUTPOST_LEASE_MS; default 60000)')
    .option('--max-attempts <n>', 'claims before a work item fails (OUTPOST_MAX_ATTEMPTS; default 5)')
    .option('--starting-timeout-ms <n>', 'STARTING runs fail after this (OUTPOST_STARTING_TIMEOUT_MS; default 300000)')
    .option(
      '--launch-deadline-ms <n>',
      'an acknowledged launch not started after this is queued again, then failed (OUTPOST_LAUNCH_DEADLINE_MS; default 180000)',
    )
    .option(
      '--temporal-ui-url <url>',
      'linked from the web UI (OUTPOST_TEMPORAL_UI_URL; default http://127.0.0.1:8233)',
    )
    .option('--temporal-namespace <ns>', 'linked from the web UI (OUTPOST_TEMPORAL_NAMESPACE; default default)')
    .option(
      '--module-roots <dirs>',
      'directories (":"-separated) an EDITOR may deploy modules from (OUTPOST_MODULE_ROOTS; default the working directory)',
    )
    .option(
      '--allowed-origins <origins>',
      'comma-separated origins allowed to call /graphql cross-origin, without cookies (OUTPOST_ALLOWED_ORIGINS; default none)',
    )
    .option(
      '--allowed-hosts <names>',
      "comma-separated host names served besides localhost and IP literals, e.g. a proxy's or compose service's; * = any (OUTPOST_ALLOWED_HOSTS; default none)",
    )
    .option(
      '--audit-retention-days <n>',
      'audit rows older than this are pruned (OUTPOST_AUDIT_RETENTION_DAYS; default 90)',
    )
    .option(
      '--tick-retention-days <n>',
      `finished schedule and sensor ticks older than this are pruned (OUTPOST_TICK_RETENTION_DAYS; default ${DEFAULT_TICK_RETENTION_MS / DAY_MS})`,
    )
    .option(
      '--skipped-tick-retention-days <n>',
      `SKIPPED ticks older than this are pruned (OUTPOST_SKIPPED_TICK_RETENTION_DAYS; default ${DEFAULT_SKIPPED_TICK_RETENTION_MS / DAY_MS})`,
    )
    .action(async (flags: Record<string, unknown>) => {
      // Before any thread starts (idle-collect.ts says why).
      const collect = takeCollector();
      // commander sets daemon=true by default for --no-daemon; only an explicit flag should win over env.
      const given = { ...flags, daemon: flags.daemon === false ? false : undefined };
      const cfg = loadConfig(ControlPlaneConfigSchema, SOURCES, given as Partial<Record<keyof Config, unknown>>);
      const logger = createLogger({ name: 'control-plane' });
      const cp = await startControlPlane({
        databaseUrl: cfg.databaseUrl,
        host: cfg.host,
        port: cfg.port,
        dataDir: cfg.dataDir,
        ...(cfg.agentTokenFile ? { agentTokenFile: cfg.agentTokenFile } : {}),
        logger,
        daemon: cfg.daemon,
        ...(cfg.tlsCert ? { tlsCertFile: cfg.tlsCert } : {}),
        ...(cfg.tlsKey ? { tlsKeyFile: cfg.tlsKey } : {}),
        limits: {
          ...(cfg.maxBodyBytes ? { maxBodyBytes: cfg.maxBodyBytes } : {}),
          ...(cfg.maxQueryDepth ? { maxQueryDepth: cfg.maxQueryDepth } : {}),
          ...Object.fromEntries(NEW_STYLE_LIMITS.filter((k) => cfg[k]).map((k) => [k, cfg[k]])),
          ...(cfg.maxEventsPerBatch ? { maxEventsPerBatch: cfg.maxEventsPerBatch } : {}),
          ...(cfg.maxClaimBatch ? { maxClaimBatch: cfg.maxClaimBatch } : {}),
        },
        storeLimits: {
          ...(cfg.computeLogCapBytes ? { computeLogCapBytes: cfg.computeLogCapBytes } : {}),
          ...(cfg.leaseMs ? { leaseMs: cfg.leaseMs } : {}),
          ...(cfg.maxAttempts ? { maxAttempts: cfg.maxAttempts } : {}),
        },
        daemonOptions: {
          ...(cfg.startingTimeoutMs ? { startingTimeoutMs: cfg.startingTimeoutMs } : {}),
          ...(cfg.launchDeadlineMs ? { launchDeadlineMs: cfg.launchDeadlineMs } : {}),
          auditRetentionMs: cfg.auditRetentionDays * DAY_MS,
          tickRetentionMs: cfg.tickRetentionDays * DAY_MS,
          skippedTickRetentionMs: cfg.skippedTickRetentionDays * DAY_MS,
        },
        ...(cfg.moduleRoots ? { moduleRoots: list(cfg.moduleRoots, /[:;]/) } : {}),
        ...(cfg.allowedOrigins ? { allowedOrigins: list(cfg.allowedOrigins, /,/) } : {}),
        ...(cfg.allowedHosts ? { allowedHosts: list(cfg.allowedHosts, /,/) } : {}),
        web: { temporalUiUrl: cfg.temporalUiUrl, temporalNamespace: cfg.temporalNamespace },
      });
      console.log(`control plane at ${cp.url} (GraphiQL: ${cp.url}/graphql)`);
      // Start-up leaves V8's young generation at its largest: give it back once the server is quiet.
      collectWhenIdle(collect, { logger });
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        void cp.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
