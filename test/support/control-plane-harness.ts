// Test harness for the control plane: a store on a fresh database, the fetch handler (no
// port), one user and one agent token, and a tiny GraphQL caller.
import {
  Store,
  createControlPlaneFetchHandler,
  type ApiLimits,
  type FetchHandler,
  type StoreLimits,
} from '../../src/control-plane/index.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { createNodeServer } from '../../src/control-plane/http/node-server.js';
import { deployCodeLocation } from '../../src/control-plane/services/locations-service.js';
import { claimWork, completeWork } from '../../src/control-plane/services/work-service.js';
import { reportCodeLocation } from '../../src/control-plane/store/locations.js';
import { createToken } from '../../src/control-plane/store/tokens.js';
import { createLogger } from '../../src/shared/logger.js';
import type { LocationSnapshot } from '../../src/shared/location-snapshot.js';
import { runWorkflowId, workItemWorkflowId } from '../../src/shared/workflow-contract.js';

export interface GqlResult<T = Record<string, unknown>> {
  status: number;
  data?: T;
  errors?: {
    message: string;
    extensions?: { code?: string; hint?: string; http?: number; data?: Record<string, unknown> };
  }[];
}

export interface Harness {
  store: Store;
  handler: FetchHandler;
  userToken: string;
  agentToken: string;
  clock: { now: number };
  gql<T = Record<string, unknown>>(
    api: 'user' | 'agent',
    query: string,
    variables?: Record<string, unknown>,
    token?: string | null,
  ): Promise<GqlResult<T>>;
  close(): Promise<void>;
}

export async function openHarness(
  url: string,
  opts: { limits?: Partial<ApiLimits>; storeLimits?: Partial<StoreLimits>; realClock?: boolean } = {},
): Promise<Harness> {
  const clock = { now: Date.UTC(2026, 0, 1, 12, 0, 0) };
  const store = await Store.open({
    url,
    ...(opts.realClock ? {} : { clock: () => clock.now }),
    ...(opts.storeLimits ? { limits: opts.storeLimits } : {}),
  });
  const logger = createLogger({ name: 'test', level: 'silent' });
  const handler = createControlPlaneFetchHandler({
    store,
    logger,
    web: false,
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  const userToken = (await createToken(store, 'user', 'test-user')).token;
  const agentToken = (await createToken(store, 'agent', 'test-agent')).token;
  return {
    store,
    handler,
    userToken,
    agentToken,
    clock,
    async gql(api, query, variables = {}, token) {
      const t = token === undefined ? (api === 'user' ? userToken : agentToken) : token;
      const res = await handler(
        new Request(`http://127.0.0.1/${api === 'user' ? 'graphql' : 'agent/graphql'}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}) },
          body: JSON.stringify({ query, variables }),
        }),
      );
      const body = (await res.json()) as Omit<GqlResult, 'status'>;
      return { status: res.status, ...body } as GqlResult<never>;
    },
    close: () => store.close(),
  };
}

export const SNAPSHOT: LocationSnapshot = {
  jobs: [
    {
      name: 'hello',
      description: 'says hello',
      tags: {},
      configSchema: {},
      ops: [
        { name: 'a', description: '', inputs: [], outputs: ['result'], tags: {} },
        {
          name: 'b',
          description: '',
          inputs: [{ name: 'x', fromOp: 'a', fromOutput: 'result' }],
          outputs: [],
          tags: {},
        },
      ],
    },
    {
      name: 'sleepy',
      description: '',
      tags: {},
      configSchema: {
        type: 'object',
        properties: { seconds: { type: 'number', minimum: 0 } },
        required: ['seconds'],
        additionalProperties: false,
      },
      ops: [],
    },
  ],
  schedules: [
    {
      name: 'every_minute',
      job: 'hello',
      cron: '* * * * *',
      timezone: 'UTC',
      defaultStatus: 'RUNNING',
      description: '',
    },
  ],
  sensors: [{ name: 'files', job: 'hello', minIntervalSeconds: 30, defaultStatus: 'STOPPED', description: '' }],
  partitions: [],
};

/**
 * Deploys `hello`, and a registered agent claims and acks its SYNC_CODE_LOCATION item (only the
 * agent asked to sync a version may report it) and reports it LOADED; returns the agent id.
 * Call it while nothing else is queued: the claim takes what is queued.
 */
export async function loadedLocation(h: Harness, name = 'hello'): Promise<string> {
  const dep = await h.gql<{ deployCodeLocation: { version: number } }>(
    'user',
    `mutation($i: DeployCodeLocationInput!) { deployCodeLocation(input: $i) { version } }`,
    { i: { name, module: 'examples/hello/definitions.ts' } },
  );
  if (!dep.data) throw new Error(JSON.stringify(dep.errors));
  const reg = await h.gql<{ registerAgent: { agentId: string } }>(
    'agent',
    `mutation { registerAgent(input: { name: "a1", hostname: "h", version: "0", taskQueue: "q1" }) { agentId } }`,
  );
  const agentId = reg.data!.registerAgent.agentId;
  const claimed = await h.gql<{ claimWork: { id: string; kind: string }[] }>(
    'agent',
    `mutation($a: ID!) { claimWork(agentId: $a, limit: 1, waitMs: 0) { id kind } }`,
    { a: agentId },
  );
  const sync = claimed.data?.claimWork.find((w) => w.kind === 'SYNC_CODE_LOCATION');
  if (!sync) throw new Error(`no SYNC_CODE_LOCATION item to claim: ${JSON.stringify(claimed)}`);
  await h.gql(
    'agent',
    `mutation($a: ID!, $i: ID!, $w: String!) { ackWork(agentId: $a, id: $i, workflowId: $w) { id } }`,
    {
      a: agentId,
      i: sync.id,
      w: workItemWorkflowId(sync.id),
    },
  );
  const rep = await h.gql('agent', `mutation($i: ReportCodeLocationInput!) { reportCodeLocation(input: $i) }`, {
    i: { agentId, location: name, version: dep.data.deployCodeLocation.version, status: 'LOADED', snapshot: SNAPSHOT },
  });
  if (rep.errors) throw new Error(JSON.stringify(rep.errors));
  return agentId;
}

/**
 * A loaded location on a bare store (the services called directly, no HTTP): deploys `name`,
 * reports it LOADED with `snapshot`, and has agent A claim and complete its SYNC item, so later
 * claims see only what the test or the daemon enqueues. Call it while nothing else is queued.
 */
export async function loadedInStore(
  store: Store,
  name = 'hello',
  snapshot: LocationSnapshot = SNAPSHOT,
): Promise<void> {
  const loc = await deployCodeLocation(store, { name, module: 'x.ts' });
  await reportCodeLocation(store, { location: name, version: loc.version, status: 'LOADED', snapshot });
  const [sync] = await claimWork(store, { agentId: 'A', limit: 1, waitMs: 0 });
  if (sync?.kind !== 'SYNC_CODE_LOCATION') throw new Error(`expected ${name}'s SYNC item, claimed ${sync?.kind}`);
  await completeWork(store, 'A', sync.id, { status: 'LOADED' });
}

/** Two agents on two tokens, and a run launched to the first (claimed, acked, reported launched). */
export interface RunOfAgentA {
  agentA: string;
  agentB: string;
  tokenB: string;
  runId: string;
}

/**
 * `loadedLocation`, then a second agent registered with its own token, and a `hello` run whose
 * LAUNCH_RUN item agent A claims, acks and reports launched: the set-up of the agent upload
 * endpoints' ownership tests. Up to `'claimed'`, A only claims it: A holds the run through its
 * lease alone (not acked, no launching agent recorded), which lapses `store.limits.leaseMs` on.
 */
export async function runOfAgentA(h: Harness, upTo: 'claimed' | 'launched' = 'launched'): Promise<RunOfAgentA> {
  const agentA = await loadedLocation(h);
  const tokenB = (await createToken(h.store, 'agent', 'deployment-b')).token;
  const reg = await h.gql<{ registerAgent: { agentId: string } }>(
    'agent',
    `mutation { registerAgent(input: { name: "b", hostname: "h", version: "0", taskQueue: "qb" }) { agentId } }`,
    {},
    tokenB,
  );
  const agentB = reg.data!.registerAgent.agentId;
  const runId = (
    await h.gql<{ launchRun: { id: string } }>(
      'user',
      `mutation { launchRun(input: { location: "hello", job: "hello" }) { id } }`,
    )
  ).data!.launchRun.id;
  const claimed = await h.gql<{ claimWork: { id: string }[] }>(
    'agent',
    `mutation($a: ID!) { claimWork(agentId: $a, limit: 10, waitMs: 0) { id } }`,
    { a: agentA },
  );
  const item = claimed.data!.claimWork[0]!;
  if (upTo === 'claimed') return { agentA, agentB, tokenB, runId };
  await h.gql(
    'agent',
    `mutation($a: ID!, $i: ID!, $w: String!) { ackWork(agentId: $a, id: $i, workflowId: $w) { id } }`,
    {
      a: agentA,
      i: item.id,
      w: runWorkflowId(runId),
    },
  );
  const rl = await h.gql('agent', `mutation($a: ID!, $r: ID!) { reportRunLaunched(agentId: $a, runId: $r) }`, {
    a: agentA,
    r: runId,
  });
  if (rl.errors) throw new Error(JSON.stringify(rl.errors));
  return { agentA, agentB, tokenB, runId };
}

/** `runOfAgentA` on a fresh harness, filled in by `before()` and closed by `after()` of the suite. */
export interface UploadFixture extends RunOfAgentA {
  h: Harness;
}

/**
 * The agent upload endpoints' suite set-up (agent-events, agent-logs): a harness on
 * `freshUrl()` with `opts`, and `runOfAgentA` on it. Call inside the suite; read the fields
 * in tests (they are set once `before()` has run).
 */
export function uploadFixture(freshUrl: () => Promise<string>, opts: Parameters<typeof openHarness>[1]): UploadFixture {
  const u = { agentA: '', agentB: '', tokenB: '', runId: '' } as UploadFixture;
  before(async () => {
    u.h = await openHarness(await freshUrl(), opts);
    Object.assign(u, await runOfAgentA(u.h));
  });
  after(() => u.h.close());
  return u;
}

/** What a raw-body agent endpoint (/agent/events, /agent/logs) answered: its status and JSON. */
export interface RawAnswer<B> {
  status: number;
  body: B & {
    errors?: { message: string; extensions: { code: string; hint: string; data?: Record<string, unknown> } }[];
  };
}

/**
 * POSTs `body` to a raw-body agent endpoint through the fetch handler, as the agent does: query
 * `params`, `contentType` (overridable in `headers`), bearer `token` (default the agent token;
 * null sends none).
 */
export async function postAgentRaw<B>(
  h: Harness,
  path: '/agent/events' | '/agent/logs',
  contentType: string,
  params: Record<string, string>,
  body: string | Buffer,
  headers: Record<string, string> = {},
  token: string | null = h.agentToken,
): Promise<RawAnswer<B>> {
  const res = await h.handler(
    new Request(`http://127.0.0.1${path}?${new URLSearchParams(params)}`, {
      method: 'POST',
      headers: {
        'content-type': contentType,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: typeof body === 'string' ? body : new Uint8Array(body),
    }),
  );
  return { status: res.status, body: (await res.json()) as RawAnswer<B>['body'] };
}

/** The harness's handler behind the real node:http server on a free 127.0.0.1 port. */
export interface ServedHarness {
  server: Server;
  base: string;
  close(): Promise<void>;
}

export async function serveHarness(h: Harness, maxBodyBytes: number): Promise<ServedHarness> {
  const server = createNodeServer({
    handler: h.handler,
    maxBodyBytes,
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
