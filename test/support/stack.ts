// A real Outpost stack for agent tests: the control plane (startControlPlane, SQLite or
// PostgreSQL), tokens, a user-API client, and an agent, in-process (startOutpostAgent) or as a real
// `outpost agent` child process, all against the test Temporal dev server.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GraphQLClient } from 'graphql-request';
import type { AgentMode, RunningAgent } from '../../src/agent/agent.js';
import { startOutpostAgent } from '../../src/cli/agent-root.js';
import { loadAgentConfig } from '../../src/agent/config.js';
import {
  startControlPlane,
  type ApiLimits,
  type ControlPlane,
  type StoreLimits,
} from '../../src/control-plane/index.js';
import { createLogger } from '../../src/shared/logger.js';
import { spawnOutpost } from './process.js';
import { uniqueTaskQueue } from './temporal.js';
import { until } from './wait.js';

export const HELLO_MODULE = resolve('examples/hello/definitions.ts');
const quiet = createLogger({ name: 'test', level: process.env.OUTPOST_TEST_LOG_LEVEL ?? 'silent' });

export interface RunView {
  id: string;
  status: string;
  events: Array<{
    /** Public seq: 1..N over all events. */
    seq: number;
    /** The run worker's own seq; null for events the control plane wrote. */
    workerSeq: number | null;
    type: string;
    message?: string | null;
    stepKey?: string | null;
    error?: { message?: string; stack?: string } | null;
  }>;
}

export interface Stack {
  cp: ControlPlane;
  user: GraphQLClient;
  agentToken: string;
  taskQueue: string;
  dataDir: string;
  temporalAddress: string;
  agent?: RunningAgent;
  startAgent(mode?: AgentMode): Promise<RunningAgent>;
  gql<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  deploy(name: string, module: string, env?: Record<string, string>): Promise<void>;
  /** Deploys a Dagster location and waits until it is LOADED (throws with its load error if not); returns its kind. */
  deployDagster(
    name: string,
    dagster: { python: string; pythonFile: string; workingDirectory: string },
  ): Promise<string>;
  locationStatus(name: string): Promise<{ status: string; version: number; loadError: string | null }>;
  launch(job: string, runConfig?: Record<string, unknown>, location?: string): Promise<string>;
  run(id: string): Promise<RunView>;
  waitRun(id: string, statuses: string[], timeoutMs?: number): Promise<RunView>;
  computeLogs(id: string, stream: 'stdout' | 'stderr'): Promise<string>;
  close(): Promise<void>;
}

export async function startStack(opts: {
  databaseUrl?: string;
  temporalAddress: string;
  storeLimits?: Partial<StoreLimits>;
  limits?: Partial<ApiLimits>;
  /** Run the schedule/sensor daemon (default false: tests drive work items themselves). */
  daemon?: boolean;
}): Promise<Stack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-agent-it-'));
  const cp = await startControlPlane({
    databaseUrl: opts.databaseUrl ?? `sqlite:${join(dataDir, 'outpost.db')}`,
    port: 0,
    daemon: opts.daemon ?? false,
    ...(opts.daemon ? { daemonOptions: { intervalMs: 500 } } : {}),
    web: false,
    logger: quiet,
    storeLimits: { heartbeatIntervalMs: 2_000, ...opts.storeLimits },
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  const userToken = await cp.issueToken('user', 'agent-tests');
  const agentToken = await cp.issueToken('agent', 'agent-tests');
  const user = new GraphQLClient(`${cp.url}/graphql`, { headers: { authorization: `Bearer ${userToken}` } });
  const taskQueue = uniqueTaskQueue('agent');
  const gql = <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> =>
    user.request<T>(query, variables);

  const stack: Stack = {
    cp,
    user,
    agentToken,
    taskQueue,
    dataDir,
    temporalAddress: opts.temporalAddress,
    async startAgent(mode = 'all') {
      const config = loadAgentConfig(
        {
          url: cp.url,
          temporalAddress: opts.temporalAddress,
          taskQueue,
          dataDir: join(dataDir, 'agent'),
          maxInFlight: '32',
        },
        {},
      );
      stack.agent = await startOutpostAgent({ config, token: agentToken, logger: quiet, mode });
      return stack.agent;
    },
    gql,
    async deploy(name, module, env) {
      const r = await gql<{ deployCodeLocation: { version: number } }>(
        `mutation($input: DeployCodeLocationInput!) { deployCodeLocation(input: $input) { version } }`,
        { input: { name, module, ...(env ? { env } : {}) } },
      );
      await until(`location ${name} v${r.deployCodeLocation.version} settled`, async () => {
        const s = await stack.locationStatus(name);
        return s.version === r.deployCodeLocation.version && s.status !== 'LOADING' ? s : undefined;
      });
    },
    async deployDagster(name, dagster) {
      const r = await gql<{ deployCodeLocation: { kind: string; version: number } }>(
        `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { kind version } }`,
        { i: { name, dagster } },
      );
      const { version } = r.deployCodeLocation;
      const st = await until(
        `${name} v${version} settled`,
        async () => {
          const l = await stack.locationStatus(name);
          return l.version === version && l.status !== 'LOADING' ? l : undefined;
        },
        120_000,
      );
      if (st.status !== 'LOADED') throw new Error(`${name} is ${st.status}: ${st.loadError}`);
      return r.deployCodeLocation.kind;
    },
    async locationStatus(name) {
      const r = await gql<{ codeLocation: { status: string; version: number; loadError: string | null } }>(
        `query($name: String!) { codeLocation(name: $name) { status version loadError } }`,
        { name },
      );
      return r.codeLocation;
    },
    async launch(job, runConfig = {}, location = 'hello') {
      const r = await gql<{ launchRun: { id: string } }>(
        `mutation($input: LaunchRunInput!) { launchRun(input: $input) { id } }`,
        { input: { location, job, runConfig } },
      );
      return r.launchRun.id;
    },
    async run(id) {
      const events: RunView['events'] = [];
      let status = '';
      // Pages of 1000 (the API's page limit), until a short page.
      for (let page = 0; page < 1_000; page++) {
        const after = events.at(-1)?.seq ?? 0;
        const r = await gql<{ run: { status: string; events: RunView['events'] } }>(
          `query($id: ID!, $after: Int!) { run(id: $id) { status events(afterSeq: $after, first: 1000) { seq workerSeq type message stepKey error } } }`,
          { id, after },
        );
        status = r.run.status;
        events.push(...r.run.events);
        if (r.run.events.length < 1000) break;
      }
      return { id, status, events };
    },
    async waitRun(id, statuses, timeoutMs = 120_000) {
      await until(
        `run ${id} in ${statuses.join('|')}`,
        async () => {
          const r = await gql<{ run: { status: string } }>(`query($id: ID!) { run(id: $id) { status } }`, { id });
          return statuses.includes(r.run.status) ? r : undefined;
        },
        timeoutMs,
        250,
      );
      return stack.run(id);
    },
    async computeLogs(id, stream) {
      const r = await gql<{ run: { computeLogs: { data: string } } }>(
        `query($id: ID!, $stream: ComputeLogStream!) { run(id: $id) { computeLogs(stream: $stream) { data } } }`,
        { id, stream: stream.toUpperCase() },
      );
      return r.run.computeLogs.data;
    },
    async close() {
      await stack.agent?.stop();
      await cp.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Everything an agent child process printed (stdout + stderr), for checks such as "no token". */
export const agentOutput = new WeakMap<ChildProcess, string[]>();

/** `outpost agent` as a real child process (for kill -9). Resolves once it printed its ready line. */
export async function spawnAgentProcess(
  stack: Stack,
  extraArgs: string[] = [],
  opts: {
    mode?: 'all' | 'worker' | 'poller';
    dataDir?: string;
    env?: NodeJS.ProcessEnv;
    /** The command before `agent` (e.g. node and the compiled dist/ entry); spawnOutpost's default otherwise. */
    cli?: string[];
  } = {},
): Promise<ChildProcess> {
  const tokenFile = join(stack.dataDir, 'agent.token');
  writeFileSync(tokenFile, `${stack.agentToken}\n`, { mode: 0o600 });
  const output: string[] = [];
  const { child } = await spawnOutpost(
    [
      'agent',
      opts.mode ?? 'all',
      '--url',
      stack.cp.url,
      '--token-file',
      tokenFile,
      '--temporal-address',
      stack.temporalAddress,
      '--task-queue',
      stack.taskQueue,
      '--data-dir',
      opts.dataDir ?? join(stack.dataDir, 'agent'),
      ...extraArgs,
    ],
    /OUTPOST_AGENT_READY/,
    { OUTPOST_LOG_LEVEL: 'info', ...opts.env },
    output,
    opts.cli,
  );
  agentOutput.set(child, output);
  return child;
}
