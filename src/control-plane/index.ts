// The control plane: opens and migrates the store, serves /graphql (user API + GraphiQL),
// /agent/graphql, /healthz, /readyz, /metrics and the web UI, and runs the schedule/sensor daemon.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { OutpostError } from '../shared/errors.js';
import { createLogger, redactUrl, type Logger } from '../shared/logger.js';
import { Daemon, type DaemonOptions } from './daemon/daemon.js';
import { createControlPlaneHandler, type FetchHandler } from './http/handler.js';
import { Metrics } from './http/metrics.js';
import { createNodeServer } from './http/node-server.js';
import { RequestBudget } from './http/request-budget.js';
import { DEFAULT_API_LIMITS, type ApiLimits } from './limits.js';
import type { UserRole } from './core/roles.js';
import { Store, type StoreLimits } from './store/store.js';
import { recordAudit } from './store/audit-log.js';
import { storeSessions } from './store/sessions.js';
import { createToken, hasLiveToken, agentTokenIdOf, verifyToken, type TokenKind } from './store/tokens.js';
import { createWebHandler } from './web/index.js';

export { Store, type StoreLimits } from './store/store.js';
export { DEFAULT_API_LIMITS, type ApiLimits } from './limits.js';
export type { FetchHandler } from './http/handler.js';
export { Daemon, type DaemonOptions } from './daemon/daemon.js';
export { createToken, listTokens, revokeToken, type TokenInfo, type TokenKind } from './store/tokens.js';
export { USER_ROLES, type UserRole } from './core/roles.js';

export interface ControlPlaneOptions {
  /** `sqlite:.outpost/outpost.db` (default in the CLI), a file path, or `postgres://...`. */
  databaseUrl: string;
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 3000. */
  port?: number;
  /** Where the first admin user token is written (`<dataDir>/user.token`). No file when unset. */
  dataDir?: string;
  /**
   * A file that must hold a live agent token before the server listens: kept when it does,
   * else a new agent token is written to it (0600). `outpost dev` uses it so that both token
   * files exist once /healthz answers. No file when unset.
   */
  agentTokenFile?: string;
  logger?: Logger;
  /** Epoch-ms clock for leases, ticks and timeouts. Default Date.now. */
  clock?: () => number;
  /** Run the schedule/sensor/timeout daemon in this process. Default true. */
  daemon?: boolean;
  daemonOptions?: Partial<DaemonOptions>;
  limits?: Partial<ApiLimits>;
  storeLimits?: Partial<StoreLimits>;
  /** PEM files; when both are set the server speaks HTTPS. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Web UI settings; false to serve no UI. Default: Temporal UI at http://127.0.0.1:8233, namespace default. */
  web?: false | { temporalUiUrl?: string; temporalNamespace?: string; secureCookies?: boolean };
  /**
   * Directories under which a non-ADMIN token may deploy module paths and working directories
   * (--module-roots / OUTPOST_MODULE_ROOTS). Default: the control plane's working directory.
   */
  moduleRoots?: string[];
  /** Origins allowed to call /graphql from a browser (--allowed-origins / OUTPOST_ALLOWED_ORIGINS). Default none. */
  allowedOrigins?: string[];
  /**
   * Host names the server answers for besides localhost and IP literals
   * (--allowed-hosts / OUTPOST_ALLOWED_HOSTS; `*` = any). Default: none, plus `host` when it is
   * a name. A browser request for any other name (DNS rebinding) is refused HOST_NOT_ALLOWED.
   */
  allowedHosts?: string[];
}

export interface ControlPlane {
  /** `http://127.0.0.1:PORT` (https with TLS). */
  url: string;
  store: Store;
  daemon: Daemon | undefined;
  /** Creates a token and returns its plaintext (shown once; only the hash is stored). User tokens default to ADMIN. */
  issueToken(kind: TokenKind, name: string, role?: UserRole): Promise<string>;
  close(): Promise<void>;
}

export interface HandlerOptions {
  store: Store;
  limits?: Partial<ApiLimits>;
  logger?: Logger;
  web?: ControlPlaneOptions['web'];
  moduleRoots?: string[];
  allowedOrigins?: string[];
  /** Host names answered besides localhost and IP literals (ControlPlaneOptions.allowedHosts). */
  allowedHosts?: string[];
  /** The clock of the per-token request rate, in ms (default performance.now). */
  monotonicClock?: () => number;
}

/** The whole HTTP surface as a fetch handler, for tests without a port. */
export function createControlPlaneFetchHandler(opts: HandlerOptions): FetchHandler {
  const logger = opts.logger ?? createLogger({ name: 'control-plane' });
  const limits = { ...DEFAULT_API_LIMITS, ...opts.limits };
  // One per-token rate for /graphql and the web UI's sign-in with a token.
  const requestBudget = new RequestBudget(limits, opts.monotonicClock);
  const web =
    opts.web === false || opts.web === undefined
      ? undefined
      : createWebHandler({
          sessions: storeSessions(opts.store, requestBudget),
          temporalUiUrl: opts.web.temporalUiUrl ?? 'http://127.0.0.1:8233',
          temporalNamespace: opts.web.temporalNamespace ?? 'default',
          logger,
          ...(opts.web.secureCookies !== undefined ? { secureCookies: opts.web.secureCookies } : {}),
        });
  return createControlPlaneHandler({
    store: opts.store,
    limits,
    requestBudget,
    metrics: new Metrics(),
    logger,
    deployPolicy: { moduleRoots: opts.moduleRoots ?? [process.cwd()] },
    cors: { allowedOrigins: opts.allowedOrigins ?? [] },
    hosts: { allowedHosts: opts.allowedHosts ?? [] },
    ...(web ? { web } : {}),
  });
}

/** Writes the first admin user token to `<dataDir>/user.token` (0600) when no user token exists. */
async function ensureAdminToken(store: Store, dataDir: string, logger: Logger): Promise<void> {
  if (await hasLiveToken(store, 'user')) return;
  const { token } = await createToken(store, 'user', 'admin', { role: 'ADMIN' });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 }); // like the database's (sqlite-dialect.ts)
  const file = join(dataDir, 'user.token');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  logger.info({ file }, 'created the first admin user token');
}

/** Makes `file` hold a live agent token (see ControlPlaneOptions.agentTokenFile). */
async function ensureAgentTokenFile(store: Store, file: string, logger: Logger): Promise<void> {
  let current = '';
  try {
    current = readFileSync(file, 'utf8').trim();
  } catch {
    // absent: create one
  }
  if (current && (await verifyToken(store, current))?.kind === 'agent') return;
  // The new token succeeds the file's old one, so the agent using this file keeps its id.
  const replaces = current ? await agentTokenIdOf(store, current) : undefined;
  const name = 'outpost dev agent';
  const { id, token } = await createToken(store, 'agent', name, replaces ? { replaces } : {});
  // Audited as the API's createToken is (a successor takes the old token's agents over), by no
  // token: the control plane's own start did it. Before the file is written: if the row cannot
  // be written the start fails, and nobody holds the new token.
  await recordAudit(store, {
    actorTokenId: null,
    actor: 'control plane (--agent-token-file)',
    action: 'createToken',
    target: `agent ${name}${replaces ? ` replaces ${replaces}` : ''} (${id})`,
    outcome: 'ok',
  });
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600); // writeFileSync's mode applies only to a new file
  logger.info({ file }, 'wrote a new agent token');
}

/** The operator's host names, and the bound interface when it is a name (`--host outpost.internal`). */
function allowedHostsFor(opts: ControlPlaneOptions): string[] {
  const host = opts.host ?? '127.0.0.1';
  const named = host !== '' && isIP(host) === 0 && host !== 'localhost';
  return [...(opts.allowedHosts ?? []), ...(named ? [host] : [])];
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const logger = opts.logger ?? createLogger({ name: 'control-plane' });
  const store = await Store.open({
    url: opts.databaseUrl,
    logger,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.storeLimits ? { limits: opts.storeLimits } : {}),
  });
  let server: Server | undefined;
  let daemon: Daemon | undefined;
  try {
    if (opts.dataDir) await ensureAdminToken(store, opts.dataDir, logger);
    if (opts.agentTokenFile) await ensureAgentTokenFile(store, opts.agentTokenFile, logger);
    const limits = { ...DEFAULT_API_LIMITS, ...opts.limits };
    const handler = createControlPlaneFetchHandler({
      store,
      limits,
      logger,
      web: opts.web ?? {},
      ...(opts.moduleRoots ? { moduleRoots: opts.moduleRoots } : {}),
      ...(opts.allowedOrigins ? { allowedOrigins: opts.allowedOrigins } : {}),
      allowedHosts: allowedHostsFor(opts),
    });
    const tls =
      opts.tlsCertFile && opts.tlsKeyFile
        ? { cert: readFileSync(opts.tlsCertFile), key: readFileSync(opts.tlsKeyFile) }
        : undefined;
    if (!!opts.tlsCertFile !== !!opts.tlsKeyFile) {
      throw new OutpostError('CONFIG_INVALID', { detail: '--tls-cert and --tls-key must be given together' });
    }
    const srv = createNodeServer({ handler, maxBodyBytes: limits.maxBodyBytes, logger, ...(tls ? { tls } : {}) });
    server = srv;
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? 3000;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new OutpostError('PORT_IN_USE', { detail: `${host}:${port} (--port / OUTPOST_PORT)`, cause: err })
            : err,
        ),
      );
      srv.listen(port, host, () => resolve());
    });
    const addr = srv.address() as AddressInfo;
    const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `${tls ? 'https' : 'http'}://${shownHost}:${addr.port}`;
    if (opts.daemon !== false) {
      daemon = new Daemon(store, logger, opts.daemonOptions);
      daemon.start();
    }
    logger.info({ url, database: redactUrl(opts.databaseUrl), dialect: store.dialect.name }, 'control plane listening');
    let closed = false;
    return {
      url,
      store,
      daemon,
      issueToken: async (kind, name, role) => (await createToken(store, kind, name, role ? { role } : {})).token,
      async close() {
        if (closed) return;
        closed = true;
        await daemon?.stop();
        await new Promise<void>((resolve) => {
          srv.close(() => resolve());
          srv.closeAllConnections();
        });
        await store.close();
      },
    };
  } catch (err) {
    await daemon?.stop();
    server?.close();
    await store.close();
    throw err;
  }
}
