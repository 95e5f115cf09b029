// `outpost dev` (what `npm start` runs): the whole system on the embedded default, in one
// terminal: a Temporal dev server with its UI, the control plane on SQLite, one agent, and
// the example code location. State lives in the data dir and survives restarts.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { assertPortFree } from '../../shared/net.js';
import { startDevServer, type DevServer } from '../../shared/temporal-dev-server.js';
import { userApi } from '../client.js';
import { prefixed, supervise, type Supervised } from '../supervisor.js';

interface DevOptions {
  dataDir: string;
  port: string;
  temporalPort: string;
  temporalUiPort: string;
  location: boolean;
}

const CLI_ENTRY = resolve(import.meta.dirname, '..', 'main.ts');
const nodeArgs = (...args: string[]): string[] => ['--import', 'tsx', CLI_ENTRY, ...args];

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('Run the whole system locally: Temporal + UI, control plane, one agent, examples/hello')
    .option('--data-dir <dir>', 'where state lives (SQLite files, tokens, agent spool)', '.outpost')
    .option('--port <port>', 'control-plane HTTP port (UI, /graphql)', '3000')
    .option('--temporal-port <port>', 'Temporal frontend gRPC port', '7233')
    .option('--temporal-ui-port <port>', 'Temporal Web UI port', '8233')
    .option('--no-location', 'do not deploy the example location examples/hello')
    .action(async (opts: DevOptions) => {
      await runDev(opts);
    });
}

async function runDev(opts: DevOptions): Promise<void> {
  const log = prefixed('outpost');
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const host = '127.0.0.1';
  const port = Number(opts.port);
  const temporalPort = Number(opts.temporalPort);
  const uiPort = Number(opts.temporalUiPort);
  await assertPortFree(port, host, '--port');
  await assertPortFree(temporalPort, host, '--temporal-port');
  await assertPortFree(uiPort, host, '--temporal-ui-port');

  const url = `http://${host}:${port}`;
  const children: Supervised[] = [];
  let temporal: DevServer | undefined;
  let stopping = false;

  const shutdown = async (code: number): Promise<never> => {
    if (stopping) return new Promise<never>(() => undefined);
    stopping = true;
    log('stopping...');
    // Reverse start order: the agent first (it stops its code servers), then the control plane.
    // The agent drains its Temporal workers (up to its 30 s shutdownForceTime) before it stops.
    for (const c of [...children].reverse()) await c.stop(45_000);
    stopRunWorkers(join(dataDir, 'agent'), log);
    await temporal?.stop();
    log('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    log('starting Temporal dev server...');
    temporal = await startDevServer({
      dbFile: join(dataDir, 'temporal.db'),
      port: temporalPort,
      uiPort,
      logFile: join(dataDir, 'temporal.log'),
    });
    log(`Temporal ready at ${temporal.address}`);
    temporal.process.once('exit', (c) => {
      if (!stopping) {
        log(`Temporal dev server exited (code ${c}); see ${join(dataDir, 'temporal.log')}`);
        void shutdown(1);
      }
    });

    const baseEnv: NodeJS.ProcessEnv = { ...process.env, OUTPOST_LOG_LEVEL: process.env.OUTPOST_LOG_LEVEL ?? 'info' };
    delete baseEnv.OUTPOST_TOKEN;
    delete baseEnv.OUTPOST_AGENT_TOKEN;

    const cp = supervise(
      'control-plane',
      process.execPath,
      nodeArgs(
        'control-plane',
        '--host',
        host,
        '--port',
        String(port),
        '--data-dir',
        dataDir,
        '--database-url',
        `sqlite:${join(dataDir, 'outpost.db')}`,
      ),
      { ...baseEnv, OUTPOST_TEMPORAL_UI_URL: temporal.uiUrl, OUTPOST_TEMPORAL_NAMESPACE: temporal.namespace },
    );
    children.push(cp);
    watchExit(cp, () => stopping, shutdown, log);
    await waitHttpReady(`${url}/readyz`, 60_000, cp);
    writeFileSync(join(dataDir, 'url'), url + '\n', { mode: 0o600 });

    const userTokenFile = join(dataDir, 'user.token');
    const api = userApi({ url, dataDir });
    const agentTokenFile = join(dataDir, 'agent.token');
    if (!(await agentTokenWorks(url, agentTokenFile))) {
      const res = await api.request<{ createToken: { token: string } }>(
        `mutation { createToken(kind: AGENT, name: "outpost dev agent") { token } }`,
      );
      writeFileSync(agentTokenFile, res.createToken.token + '\n', { mode: 0o600 });
    }

    const sensorInbox = join(dataDir, 'sensor-inbox');
    mkdirSync(sensorInbox, { recursive: true });
    const agent = supervise(
      'agent',
      process.execPath,
      nodeArgs('agent', '--url', url, '--temporal-address', temporal.address, '--data-dir', join(dataDir, 'agent')),
      // The token's path goes by environment, never argv: any process can read argv. The
      // example's file sensor watches .outpost/sensor-inbox, inside what isolation hides.
      {
        ...baseEnv,
        OUTPOST_AGENT_TOKEN_FILE: agentTokenFile,
        OUTPOST_AGENT_ISOLATION_EXPOSE: sensorInbox,
      },
    );
    children.push(agent);
    watchExit(agent, () => stopping, shutdown, log);

    if (opts.location) {
      await api.request(
        `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { name version } }`,
        { input: { name: 'hello', module: 'examples/hello/definitions.ts' } },
      );
      const status = await waitLocation(api, 'hello', 120_000);
      log(`code location hello: ${status}`);
    }

    // A one-time code (works once, for minutes), never the token: this line ends up in logs.
    const link = await api.request<{ createSignInLink: { path: string; expiresAt: number } }>(
      `mutation { createSignInLink { path expiresAt } }`,
    );
    const minutes = Math.round((link.createSignInLink.expiresAt - Date.now()) / 60_000);
    log('');
    log(`Outpost UI:   ${url}`);
    log(`sign in:      ${url}${link.createSignInLink.path}  (one-time link, expires in ${minutes} min)`);
    log(`GraphQL:      ${url}/graphql (user token in ${userTokenFile})`);
    log(`Temporal UI:  ${temporal.uiUrl}`);
    log(`data dir:     ${dataDir}`);
    log('try:          npx outpost runs launch hello --follow');
    log('press Ctrl-C to stop');
  } catch (err) {
    log(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
    await shutdown(1);
  }
}

function watchExit(
  s: Supervised,
  isStopping: () => boolean,
  shutdown: (code: number) => Promise<never>,
  log: (l: string) => void,
): void {
  void s.exited.then((code) => {
    if (!isStopping()) {
      log(`${s.tag} exited unexpectedly (code ${code}); stopping everything`);
      void shutdown(1);
    }
  });
}

async function waitHttpReady(url: string, timeoutMs: number, owner: Supervised): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (owner.child.exitCode !== null) throw new Error(`${owner.tag} exited with code ${owner.child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

async function agentTokenWorks(url: string, file: string): Promise<boolean> {
  if (!existsSync(file)) return false;
  const token = readFileSync(file, 'utf8').trim();
  const res = await fetch(`${url}/agent/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  return res.status === 200;
}

async function waitLocation(api: ReturnType<typeof userApi>, name: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let status = 'LOADING';
  while (Date.now() < deadline) {
    const res = await api.request<{ codeLocation: { status: string; loadError: string | null } | null }>(
      `query($name: String!) { codeLocation(name: $name) { status loadError } }`,
      { name },
    );
    status = res.codeLocation?.status ?? 'MISSING';
    if (status === 'LOADED') return status;
    if (status === 'ERROR') return `ERROR: ${res.codeLocation?.loadError ?? ''}`;
    await new Promise((r) => setTimeout(r, 250));
  }
  return `${status} (still loading after ${timeoutMs / 1000}s)`;
}

/**
 * Run workers are detached so that they survive an agent crash; when the developer stops the
 * whole system they go too. SIGTERM lets each write RUN_CANCELED; the agent ships it next start.
 */
function stopRunWorkers(agentDataDir: string, log: (l: string) => void): void {
  const runsDir = join(agentDataDir, 'runs');
  if (!existsSync(runsDir)) return;
  for (const runId of readdirSync(runsDir)) {
    const file = join(runsDir, runId, 'launch.json');
    if (!existsSync(file)) continue;
    try {
      const { pid } = JSON.parse(readFileSync(file, 'utf8')) as { pid?: number };
      if (!pid) continue;
      process.kill(-pid, 0);
      process.kill(-pid, 'SIGTERM');
      log(`stopped run worker of ${runId} (pid ${pid})`);
    } catch {
      // not running
    }
  }
}
