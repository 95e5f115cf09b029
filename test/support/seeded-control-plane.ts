// A real control plane started in-process (SQLite, a real port) and seeded through its real APIs
// for the browser tests: the user API for what a user does, the agent API for what an agent would
// report (examples/hello's definitions loaded by the real SDK, a broken location, run events,
// logs). No Temporal: ui-full-flow.test.ts covers the whole system.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotFromDefinitions } from '../../src/agent/definitions-snapshot.js';
import { startControlPlane, type ControlPlane } from '../../src/control-plane/index.js';
import { createLogger } from '../../src/shared/logger.js';
import { definitionsToProto } from '../../src/user-code/code-server/definitions-to-proto.js';
import { loadLocation } from '../../src/user-code/common/load-location.js';
import type { TestBrowser } from './browser.js';
import { graphqlCall, type Vars } from './graphql-call.js';
import { runWorkflowId } from './workflow-ids.js';

export interface SeededControlPlane {
  cp: ControlPlane;
  userToken: string;
  agentToken: string;
  /** The registered agent whose part the test plays. */
  agentId: string;
  user<T>(query: string, variables?: Vars): Promise<T>;
  agent<T>(query: string, variables?: Vars): Promise<T>;
  launch(job: string, runConfig?: Vars): Promise<string>;
  /** Plays the agent's part for a launch: claim, ack, report the worker launched. */
  agentStarts(runId: string): Promise<void>;
  /** Appends run events as the agent would, numbering them per run. */
  events(runId: string, list: Vars[]): Promise<void>;
  /** A fresh heartbeat (health means one within three intervals), as a live agent sends. */
  heartbeat(): Promise<void>;
  /** Signs the browser in through a one-time `#code=` link; resolves on /runs. */
  signIn(b: TestBrowser): Promise<void>;
  close(): Promise<void>;
}

/** Starts the control plane with `hello` LOADED (reported by a registered agent) and `broken` in ERROR. */
export async function startSeededControlPlane(): Promise<SeededControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-ui-'));
  const cp = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'outpost.db')}`,
    port: 0,
    daemon: false,
    logger: createLogger({ name: 'control-plane', level: 'warn' }),
    web: { temporalUiUrl: 'http://127.0.0.1:8233', temporalNamespace: 'default' },
  });
  const userToken = await cp.issueToken('user', 'e2e');
  const agentToken = await cp.issueToken('agent', 'e2e-agent');
  const user = <T>(q: string, v: Vars = {}): Promise<T> => graphqlCall<T>(cp.url, '/graphql', userToken, q, v);
  const agent = <T>(q: string, v: Vars = {}): Promise<T> => graphqlCall<T>(cp.url, '/agent/graphql', agentToken, q, v);

  const reg = await agent<{ registerAgent: { agentId: string } }>(
    'mutation { registerAgent(input: { name: "e2e-agent", hostname: "e2e-host", version: "test", taskQueue: "outpost" }) { agentId } }',
  );
  const agentId = reg.registerAgent.agentId;
  const heartbeat = async (): Promise<void> => {
    await agent(
      'mutation($a: ID!) { heartbeat(input: { agentId: $a, codeServers: [{ location: "hello", status: LOADED }], runningRunIds: [] }) }',
      { a: agentId },
    );
  };
  const deploy = async (name: string): Promise<number> => {
    const d = await user<{ deployCodeLocation: { version: number } }>(
      'mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }',
      { i: { name, module: 'examples/hello/definitions.ts' } },
    );
    return d.deployCodeLocation.version;
  };
  await heartbeat();
  // examples/hello as the agent reports it: the real SDK's definitions, mapped by the agent's code.
  const snapshot = snapshotFromDefinitions(
    definitionsToProto(await loadLocation('examples/hello/definitions.ts'), 'hello'),
  );
  const v = await deploy('hello');
  const vb = await deploy('broken');
  // Only the agent asked to sync a location version (it holds the SYNC item) may report it.
  await agent('mutation($a: ID!) { claimWork(agentId: $a, limit: 20, waitMs: 0) { id } }', { a: agentId });
  await agent('mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }', {
    i: { agentId, location: 'hello', version: v, status: 'LOADED', snapshot },
  });
  await agent('mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }', {
    i: {
      agentId,
      location: 'broken',
      version: vb,
      status: 'ERROR',
      error: "SyntaxError: Unexpected token '}' in definitions.ts:12",
    },
  });

  const seqs = new Map<string, number>();
  return {
    cp,
    userToken,
    agentToken,
    agentId,
    user,
    agent,
    heartbeat,
    async launch(job, runConfig = {}) {
      const d = await user<{ launchRun: { id: string } }>(
        'mutation($i: LaunchRunInput!) { launchRun(input: $i) { id } }',
        { i: { location: 'hello', job, runConfig } },
      );
      return d.launchRun.id;
    },
    async agentStarts(runId) {
      for (let i = 0; i < 10; i++) {
        const { claimWork } = await agent<{ claimWork: Array<{ id: string; kind: string; runId: string | null }> }>(
          'mutation($a: ID!) { claimWork(agentId: $a, limit: 20, waitMs: 0) { id kind runId } }',
          { a: agentId },
        );
        const item = claimWork.find((w) => w.kind === 'LAUNCH_RUN' && w.runId === runId);
        if (item) {
          await agent(
            'mutation($a: ID!, $id: ID!, $w: String!) { ackWork(agentId: $a, id: $id, workflowId: $w) { id } }',
            { a: agentId, id: item.id, w: runWorkflowId(runId) },
          );
          await agent('mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r, info: { pid: 4242 }) }', {
            a: agentId,
            r: runId,
          });
          return;
        }
      }
      throw new Error(`no LAUNCH_RUN item for ${runId}`);
    },
    async events(runId, list) {
      let seq = seqs.get(runId) ?? 0;
      const batch = list.map((e) => ({ seq: ++seq, timestamp: Date.now(), ...e }));
      seqs.set(runId, seq);
      await agent(
        'mutation($a: ID!, $r: ID!, $e: [RunEventInput!]!) { appendRunEvents(agentId: $a, runId: $r, events: $e) { status } }',
        { a: agentId, r: runId, e: batch },
      );
    },
    async signIn(b) {
      const { createSignInLink } = await user<{ createSignInLink: { path: string } }>(
        'mutation { createSignInLink { path } }',
      );
      await b.page.goto(`${cp.url}${createSignInLink.path}`);
      await b.page.waitForURL((u) => u.pathname === '/runs');
    },
    async close() {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
