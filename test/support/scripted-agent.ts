// A real control plane started in-process (SQLite, a real port) with the agent's part played
// through the real agent API: register, heartbeat, report a location, claim/ack launches,
// report launched, ship events and logs. For CLI and browser tests that need runs in exact
// states without Temporal or run workers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/control-plane/index.js';
import { createLogger } from '../../src/shared/logger.js';
import type { LocationSnapshot } from '../../src/shared/location-snapshot.js';
import { loadLocation } from '../../src/user-code/common/load-location.js';
import { definitionsToProto } from '../../src/user-code/code-server/definitions-to-proto.js';
import { snapshotFromDefinitions } from '../../src/agent/definitions-snapshot.js';
import { graphqlCall, type Vars } from './graphql-call.js';
import { runWorkflowId, workItemWorkflowId } from '../../src/shared/workflow-contract.js';

export interface ScriptedStack {
  cp: ControlPlane;
  url: string;
  userToken: string;
  agentToken: string;
  agentId: string;
  user<T>(query: string, variables?: Vars): Promise<T>;
  agent<T>(query: string, variables?: Vars): Promise<T>;
  /** The real SDK's snapshot of examples/hello, as an agent reports it. */
  helloSnapshot(): Promise<LocationSnapshot>;
  deploy(name: string): Promise<number>;
  report(name: string, version: number, outcome: { snapshot: LocationSnapshot } | { error: string }): Promise<void>;
  heartbeat(locations: string[]): Promise<void>;
  launch(job: string, runConfig?: Vars, partitionKey?: string): Promise<string>;
  /** Claim and ack the run's launch (its workflow id named as the agent would), optionally report it launched. */
  claimLaunch(runId: string, opts?: { reportLaunched?: boolean }): Promise<void>;
  events(runId: string, list: Vars[]): Promise<void>;
  /** The ComputeLogStream enum value for stdout, whatever its spelling in this schema. */
  log(runId: string, data: string): Promise<void>;
  /**
   * Play the agent for code-location queries (a launch's partition config and tags) until the
   * returned function is called: each QUERY_CODE_LOCATION item is completed with `answer`'s value.
   */
  answerQueries(answer: (payload: Vars) => unknown): () => Promise<void>;
  close(): Promise<void>;
}

/** How the scripted agent registers (the agents page shows both). */
export interface ScriptedAgentInfo {
  name?: string;
  hostname?: string;
}

export async function startScriptedStack(
  opts: Partial<ControlPlaneOptions> = {},
  info: ScriptedAgentInfo = {},
): Promise<ScriptedStack> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-scripted-'));
  const cp = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'outpost.db')}`,
    port: 0,
    daemon: false,
    logger: createLogger({ name: 'control-plane', level: 'warn' }),
    web: { temporalUiUrl: 'http://127.0.0.1:8233', temporalNamespace: 'default' },
    ...opts,
  });
  const userToken = await cp.issueToken('user', 'scripted-user');
  const agentToken = await cp.issueToken('agent', 'scripted-agent');

  const call = <T>(path: string, token: string, query: string, variables: Vars = {}): Promise<T> =>
    graphqlCall<T>(cp.url, path, token, query, variables);
  const user = <T>(q: string, v?: Vars): Promise<T> => call<T>('/graphql', userToken, q, v);
  const agent = <T>(q: string, v?: Vars): Promise<T> => call<T>('/agent/graphql', agentToken, q, v);

  const reg = await agent<{ registerAgent: { agentId: string } }>(
    'mutation($n: String!, $h: String!) { registerAgent(input: { name: $n, hostname: $h, version: "test", taskQueue: "outpost" }) { agentId } }',
    { n: info.name ?? 'scripted', h: info.hostname ?? 'h' },
  );
  const agentId = reg.registerAgent.agentId;
  const seqs = new Map<string, number>();
  const offsets = new Map<string, number>();
  let stdoutName: string | undefined;
  /** LAUNCH_RUN items claimed while claiming something else, by run id (claimLaunch takes them from here). */
  const claimedLaunches = new Map<string, string>();
  /** Claims what is queued; acks sync items (only the agent holding a version's sync may report it). */
  let answerer: ((payload: Vars) => unknown) | undefined;
  async function claimQueued(waitMs: number): Promise<Array<{ id: string; kind: string; runId: string | null }>> {
    type Claimed = { id: string; kind: string; runId: string | null; payload: Vars };
    const { claimWork } = await agent<{ claimWork: Claimed[] }>(
      'mutation($a: ID!, $w: Int!) { claimWork(agentId: $a, limit: 50, waitMs: $w) { id kind runId payload } }',
      { a: agentId, w: waitMs },
    );
    for (const w of claimWork) {
      if (w.kind === 'LAUNCH_RUN' && w.runId) claimedLaunches.set(w.runId, w.id);
      if (w.kind === 'QUERY_CODE_LOCATION' && answerer) {
        await agent(
          'mutation($a: ID!, $id: ID!, $r: JSON!) { completeWork(agentId: $a, id: $id, result: $r) { id } }',
          {
            a: agentId,
            id: w.id,
            r: { answer: answerer(w.payload) },
          },
        );
      }
      if (w.kind === 'SYNC_CODE_LOCATION') {
        await agent(
          'mutation($a: ID!, $id: ID!, $w: String!) { ackWork(agentId: $a, id: $id, workflowId: $w) { id } }',
          {
            a: agentId,
            id: w.id,
            w: workItemWorkflowId(w.id),
          },
        );
      }
    }
    return claimWork;
  }

  const stack: ScriptedStack = {
    cp,
    url: cp.url,
    userToken,
    agentToken,
    agentId,
    user,
    agent,
    async helloSnapshot() {
      return snapshotFromDefinitions(definitionsToProto(await loadLocation('examples/hello/definitions.ts'), 'hello'));
    },
    async deploy(name) {
      const d = await user<{ deployCodeLocation: { version: number } }>(
        'mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }',
        { i: { name, module: 'examples/hello/definitions.ts' } },
      );
      return d.deployCodeLocation.version;
    },
    async report(name, version, outcome) {
      await claimQueued(0);
      await agent('mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }', {
        i: {
          agentId,
          location: name,
          version,
          ...('snapshot' in outcome
            ? { status: 'LOADED', snapshot: outcome.snapshot }
            : { status: 'ERROR', error: outcome.error }),
        },
      });
    },
    async heartbeat(locations) {
      await agent('mutation($i: HeartbeatInput!) { heartbeat(input: $i) }', {
        i: { agentId, codeServers: locations.map((location) => ({ location, status: 'LOADED' })), runningRunIds: [] },
      });
    },
    async launch(job, runConfig = {}, partitionKey) {
      const d = await user<{ launchRun: { id: string } }>(
        'mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }',
        {
          i: { location: 'hello', job, runConfig, ...(partitionKey ? { partitionKey } : {}) },
        },
      );
      return d.launchRun.id;
    },
    answerQueries(answer) {
      answerer = answer;
      let stopped = false;
      const loop = (async () => {
        while (!stopped) await claimQueued(200);
      })();
      return async () => {
        stopped = true;
        await loop;
        answerer = undefined;
      };
    },
    async claimLaunch(runId, o = {}) {
      for (let i = 0; i < 20; i++) {
        if (!claimedLaunches.has(runId)) await claimQueued(200);
        const itemId = claimedLaunches.get(runId);
        if (!itemId) continue;
        claimedLaunches.delete(runId);
        const item = { id: itemId };
        await agent(
          'mutation($a: ID!, $id: ID!, $w: String!) { ackWork(agentId: $a, id: $id, workflowId: $w) { id } }',
          {
            a: agentId,
            id: item.id,
            w: runWorkflowId(runId),
          },
        );
        if (o.reportLaunched !== false) {
          await agent('mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r, info: { pid: 4242 }) }', {
            a: agentId,
            r: runId,
          });
        }
        return;
      }
      throw new Error(`no LAUNCH_RUN item for ${runId}`);
    },
    async events(runId, list) {
      let seq = seqs.get(runId) ?? 0;
      const batch = list.map((e) => ({ seq: ++seq, timestamp: Date.now(), ...e }));
      seqs.set(runId, seq);
      await agent(
        'mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { status } }',
        {
          a: agentId,
          r: runId,
          e: batch,
        },
      );
    },
    async log(runId, data) {
      if (!stdoutName) {
        const t = await agent<{ __type: { enumValues: { name: string }[] } }>(
          '{ __type(name: "ComputeLogStream") { enumValues { name } } }',
        );
        stdoutName = t.__type.enumValues.find((v) => v.name.toLowerCase() === 'stdout')!.name;
      }
      const offset = offsets.get(runId) ?? 0;
      await agent(
        'mutation($a: ID!, $r: ID!, $s: ComputeLogStream!, $o: Float!, $d: String!) { appendComputeLogs(agentId: $a, runId: $r, stream: $s, offset: $o, data: $d) { storedBytes } }',
        { a: agentId, r: runId, s: stdoutName, o: offset, d: Buffer.from(data).toString('base64') },
      );
      offsets.set(runId, offset + Buffer.byteLength(data));
    },
    async close() {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** A scripted stack with `hello` deployed, LOADED from the real SDK's definitions, and its agent heartbeating once. */
export async function startHelloStack(opts: Partial<ControlPlaneOptions> = {}): Promise<ScriptedStack> {
  const s = await startScriptedStack(opts);
  const v = await s.deploy('hello');
  await s.report('hello', v, { snapshot: await s.helloSnapshot() });
  await s.heartbeat(['hello']);
  return s;
}

/** A run of `job` on `s` that has started: launched, claimed, reported launched, RUN_START stored. */
export async function startedRun(s: ScriptedStack, job = 'hello'): Promise<string> {
  const runId = await s.launch(job);
  await s.claimLaunch(runId);
  await s.events(runId, [{ type: 'RUN_START' }]);
  return runId;
}
