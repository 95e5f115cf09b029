// `outpost dev` (what `npm start` runs): the whole system on the embedded default, in one
// terminal: a Temporal dev server with its UI, the control plane on SQLite, one agent, and
// the example code location. State lives in the data dir and survives restarts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { cliNodeArgs } from '../../shared/cli-command.js';
import { assertPortFree } from '../../shared/net.js';
import { startDevServer } from '../../shared/temporal-dev-server.js';
import { userApi } from '../client.js';
import { stopRecordedProcesses } from '../../agent/launchers/run-records.js';
import {
  Component,
  describeExit,
  exitOf,
  prefixed,
  spawnPrefixed,
  type Running,
  type SpawnedChild,
} from '../supervisor.js';

interface DevOptions {
  dataDir: string;
  port: string;
  temporalPort: string;
  temporalUiPort: string;
  location: boolean;
  dagsterPython?: string;
}

/**
 * The Dagster example `outpost dev` deploys when given an interpreter that has dagster. A
 * `new URL` literal, which the build rewrites for the compiled module's place under dist/
 * (a path joined to the module's own dir is not: compiled, it named dist/examples/dagster).
 */
export const DAGSTER_EXAMPLE = {
  name: 'dagster_example',
  dir: fileURLToPath(new URL('../../../examples/dagster', import.meta.url)),
};

/** A run worker's grace after SIGTERM (its own default is 5 s to stop its ops) before SIGKILL. */
const RUN_STOP_GRACE_MS = 10_000;

/** Its processes run the CLI as this one does: compiled, or through tsx (cli-command.ts). */
const nodeArgs = (...args: string[]): string[] => [...cliNodeArgs(), ...args];

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('Run the whole system locally: Temporal + UI, control plane, one agent, examples/hello')
    .option('--data-dir <dir>', 'where state lives (SQLite files, tokens, agent spool)', '.outpost')
    .option('--port <port>', 'control-plane HTTP port (UI, /graphql)', '3000')
    .option('--temporal-port <port>', 'Temporal frontend gRPC port', '7233')
    .option('--temporal-ui-port <port>', 'Temporal Web UI port', '8233')
    .option('--no-location', 'do not deploy the example locations')
    .option(
      '--dagster-python <path>',
      'also deploy examples/dagster as dagster_example, served by this interpreter (it must have dagster); env OUTPOST_DAGSTER_PYTHON',
      process.env.OUTPOST_DAGSTER_PYTHON || undefined,
    )
    .action(async (opts: DevOptions) => {
      await runDev(opts);
    });
}

async function runDev(opts: DevOptions): Promise<void> {
  const log = prefixed('outpost');
  const dataDir = resolve(opts.dataDir);
  const agentDataDir = join(dataDir, 'agent');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const host = '127.0.0.1';
  const port = Number(opts.port);
  const temporalPort = Number(opts.temporalPort);
  const uiPort = Number(opts.temporalUiPort);
  await assertPortFree(port, host, '--port');
  await assertPortFree(temporalPort, host, '--temporal-port');
  await assertPortFree(uiPort, host, '--temporal-ui-port');

  const url = `http://${host}:${port}`;
  const userTokenFile = join(dataDir, 'user.token');
  const agentTokenFile = join(dataDir, 'agent.token');
  /** In start order: Temporal, control plane, agent. */
  const components: Component[] = [];
  let stopping = false;

  const shutdown = async (code: number): Promise<never> => {
    if (stopping) return new Promise<never>(() => undefined);
    stopping = true;
    log('stopping...');
    // Runs first, while the agent is still up to ship what they write on SIGTERM (RUN_CANCELED),
    // so their supervision ends at once and the agent stops without waiting out its grace time.
    await stopRuns(agentDataDir, log, false);
    // Then reverse start order: the agent (it stops its code servers and standbys; it drains its
    // Temporal workers, up to its 30 s shutdownForceTime), the control plane, Temporal. Anything
    // the agent launched meanwhile, or left, goes before the control plane and Temporal.
    for (const c of [...components].reverse()) {
      await c.stop(c.tag === 'temporal' ? 10_000 : 45_000);
      if (c.tag === 'agent') await stopRuns(agentDataDir, log);
    }
    log('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  const component = (tag: string, start: () => Promise<Running>): Component => {
    const c = new Component({ tag, start, log, onGiveUp: () => void shutdown(1) });
    components.push(c);
    return c;
  };

  try {
    let temporalUiUrl = '';
    let temporalAddress = '';
    let temporalNamespace = 'default';
    const temporal = component('temporal', async () => {
      const server = await startDevServer({
        dbFile: join(dataDir, 'temporal.db'),
        port: temporalPort,
        uiPort,
        logFile: join(dataDir, 'temporal.log'),
        // Like every component: a terminal Ctrl-C must not stop Temporal before the agent drains
        // (it did, and the supervisor then "restarted" it mid-shutdown).
        detached: true,
      });
      temporalUiUrl = server.uiUrl ?? '';
      temporalAddress = server.address;
      temporalNamespace = server.namespace;
      return { pid: server.process.pid, exited: exitOf(server.process), stop: (ms) => server.stop(ms) };
    });
    log('starting Temporal dev server...');
    await temporal.start();
    log(`Temporal ready at ${temporalAddress} (pid ${temporal.pid}; log ${join(dataDir, 'temporal.log')})`);

    const baseEnv: NodeJS.ProcessEnv = {
      ...process.env,
      OUTPOST_LOG_LEVEL: process.env.OUTPOST_LOG_LEVEL ?? 'info',
      // glibc gives each thread that mallocs its own arena; the agent's Temporal core threads
      // leave ~20 MB of idle arenas (bench/footprint-dev.ts). Two are enough for these processes.
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
    };
    delete baseEnv.OUTPOST_TOKEN;
    delete baseEnv.OUTPOST_AGENT_TOKEN;

    const controlPlane = component('control-plane', async () => {
      const cp = spawnPrefixed(
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
          // Both token files are written before it listens, so before /healthz first answers.
          '--agent-token-file',
          agentTokenFile,
          '--database-url',
          `sqlite:${join(dataDir, 'outpost.db')}`,
        ),
        { ...baseEnv, OUTPOST_TEMPORAL_UI_URL: temporalUiUrl, OUTPOST_TEMPORAL_NAMESPACE: temporalNamespace },
      );
      try {
        await waitHttpReady(`${url}/readyz`, 60_000, cp);
      } catch (err) {
        await cp.stop(5_000);
        throw err;
      }
      return cp;
    });
    await controlPlane.start();
    log(`control plane ready at ${url} (pid ${controlPlane.pid})`);
    writeFileSync(join(dataDir, 'url'), url + '\n', { mode: 0o600 });

    const sensorInbox = join(dataDir, 'sensor-inbox');
    mkdirSync(sensorInbox, { recursive: true });
    const agent = component('agent', () =>
      Promise.resolve(
        spawnPrefixed(
          'agent',
          process.execPath,
          nodeArgs('agent', '--url', url, '--temporal-address', temporalAddress, '--data-dir', agentDataDir),
          // The token's path goes by environment, never argv: any process can read argv. The
          // example's file sensor watches .outpost/sensor-inbox, inside what isolation hides.
          {
            ...baseEnv,
            OUTPOST_AGENT_TOKEN_FILE: agentTokenFile,
            OUTPOST_AGENT_ISOLATION_EXPOSE: sensorInbox,
          },
        ),
      ),
    );
    await agent.start();
    log(`agent started (pid ${agent.pid})`);

    const api = userApi({ url, dataDir });
    if (opts.location) {
      await api.request(
        `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { name version } }`,
        { input: { name: 'hello', module: 'examples/hello/definitions.ts' } },
      );
      const status = await waitLocation(api, 'hello', 120_000);
      log(`code location hello: ${status}`);
      // Optional: `npm start` needs no Python; with an interpreter it also hosts the Dagster example.
      if (opts.dagsterPython) {
        await api.request(
          `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { name version } }`,
          {
            input: {
              name: DAGSTER_EXAMPLE.name,
              dagster: {
                python: opts.dagsterPython,
                pythonFile: 'definitions.py',
                workingDirectory: DAGSTER_EXAMPLE.dir,
              },
            },
          },
        );
        const dagsterStatus = await waitLocation(api, DAGSTER_EXAMPLE.name, 120_000);
        log(`code location ${DAGSTER_EXAMPLE.name}: ${dagsterStatus}`);
      }
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
    log(`Temporal UI:  ${temporalUiUrl}`);
    log(`data dir:     ${dataDir}`);
    log('try:          npx outpost runs launch hello --follow');
    if (opts.location && opts.dagsterPython) {
      log(
        `try:          npx outpost runs launch greeting_job --location ${DAGSTER_EXAMPLE.name} --config '{"ops":{"greet":{"config":{"name":"you"}}}}' --follow`,
      );
    }
    log('press Ctrl-C to stop');
  } catch (err) {
    log(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
    await shutdown(1);
  }
}

async function waitHttpReady(url: string, timeoutMs: number, owner: SpawnedChild): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { exitCode, signalCode } = owner.child;
    if (exitCode !== null || signalCode !== null) {
      throw new Error(`exited (${describeExit({ code: exitCode, signal: signalCode })}) before ${url} answered`);
    }
    if (await answersOk(url)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

/** Whether a GET of `url` answers 2xx; node:http, not fetch (see userApi in ../client.ts). */
function answersOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet(url, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      res.on('end', () => resolve(code >= 200 && code < 300));
      res.on('error', () => resolve(false));
    });
    // Not listening yet, or not answering.
    req.setTimeout(5_000, () => req.destroy());
    req.on('error', () => resolve(false));
  });
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
 * Run workers (and warm standbys) are detached so that they survive an agent crash; when the
 * developer stops the whole system they go too. SIGTERM lets each write RUN_CANCELED (shipped by
 * the agent now, or when it next starts); what is still there after the grace gets SIGKILL.
 */
async function stopRuns(agentDataDir: string, log: (l: string) => void, standbysToo = true): Promise<void> {
  const kinds = standbysToo ? (['run', 'standby'] as const) : (['run'] as const);
  const stopped = await stopRecordedProcesses(agentDataDir, RUN_STOP_GRACE_MS, kinds);
  for (const p of stopped) {
    log(`stopped ${p.kind === 'run' ? `run worker of ${p.id}` : 'a warm standby run worker'} (pid ${p.record.pid})`);
  }
}
