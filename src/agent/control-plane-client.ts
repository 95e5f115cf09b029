// The agent's only way to talk to the control plane: typed calls to /agent/graphql
// (src/control-plane/graphql/agent.graphql) over graphql-request. Transport
// failures become CONTROL_PLANE_UNAVAILABLE (retryable); GraphQL errors keep their
// OUTPOST_ERR_* code so callers can tell "try again" from "this will never work".
import { ClientError, GraphQLClient } from 'graphql-request';
import { OutpostError, type ErrorName, ERRORS } from '../shared/errors.js';
import type { RunEvent, ComputeLogStream } from '../shared/run-events.js';
import type { RunStatus, WorkItemKind } from '../shared/work-items.js';

export interface ClaimedWorkItem {
  id: string;
  kind: WorkItemKind | (string & {});
  payload: Record<string, unknown>;
  attempts: number;
  runId: string | null;
}

/** A claimed item whose workflow exists, to be acked. */
export interface WorkAck {
  id: string;
  workflowId: string;
}

export interface WorkspaceEntry {
  name: string;
  version: number;
  spec: Record<string, unknown>;
}

export interface RunCursor {
  runId: string;
  lastSeq: number;
  stdoutBytes: number;
  stderrBytes: number;
  status: RunStatus;
}

export interface CodeServerStatusReport {
  location: string;
  status: 'LOADING' | 'LOADED' | 'ERROR';
  error?: string;
}

/** The agent API as the agent uses it. Activities and the poller depend on this interface. */
export interface ControlPlaneClient {
  registerAgent(input: {
    agentId?: string;
    name: string;
    hostname: string;
    version: string;
    taskQueue: string;
    metadata?: Record<string, unknown>;
  }): Promise<{ agentId: string; heartbeatIntervalMs: number }>;
  /**
   * `signal` aborts the long-poll (shutdown must not wait out `waitMs`). `acks` are items whose
   * workflow this agent started: acked (as by ackWork) in the same request, before the claim.
   */
  claimWork(
    agentId: string,
    limit: number,
    waitMs: number,
    signal?: AbortSignal,
    acks?: WorkAck[],
  ): Promise<ClaimedWorkItem[]>;
  ackWork(agentId: string, id: string, workflowId: string): Promise<void>;
  completeWork(agentId: string, id: string, result: unknown): Promise<void>;
  failWork(agentId: string, id: string, error: { code: string; message: string }): Promise<void>;
  workspace(agentId: string): Promise<WorkspaceEntry[]>;
  reportCodeLocation(input: {
    agentId: string;
    location: string;
    version: number;
    status: 'LOADING' | 'LOADED' | 'ERROR';
    snapshot?: unknown;
    error?: string;
  }): Promise<boolean>;
  reportRunLaunched(agentId: string, runId: string, info: Record<string, unknown>): Promise<RunStatus>;
  // Run writes and the cursor are accepted only from the agent holding the run's launch (RUN_NOT_OWNED otherwise).
  appendRunEvents(
    agentId: string,
    runId: string,
    events: RunEvent[],
  ): Promise<{ highestContiguousSeq: number; status: RunStatus }>;
  appendComputeLogs(
    agentId: string,
    runId: string,
    stream: ComputeLogStream,
    offset: number,
    data: Buffer,
  ): Promise<{ storedBytes: number; truncated: boolean }>;
  runCursor(agentId: string, runId: string): Promise<RunCursor>;
}

export interface ControlPlaneClientOptions {
  /** Base URL of the control plane, e.g. http://127.0.0.1:3000 (the agent API is under /agent/graphql). */
  url: string;
  /** Agent token. Sent as a bearer header; never logged. */
  token: string;
  /** Per-request timeout in ms, added to any long-poll wait; default 30 s. */
  timeoutMs?: number;
}

const WORK_ITEM_FIELDS = 'id kind payload attempts runId';

/** Joins the base URL and the agent API path, tolerating a trailing slash or a full endpoint URL. */
export function agentEndpoint(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return trimmed.endsWith('/agent/graphql') ? trimmed : `${trimmed}/agent/graphql`;
}

export function createControlPlaneClient(opts: ControlPlaneClientOptions): ControlPlaneClient {
  const endpoint = agentEndpoint(opts.url);
  const baseTimeout = opts.timeoutMs ?? 30_000;

  async function call<T>(
    document: string,
    variables: Record<string, unknown>,
    extraWaitMs = 0,
    abort?: AbortSignal,
  ): Promise<T> {
    const timeout = AbortSignal.timeout(baseTimeout + extraWaitMs);
    const client = new GraphQLClient(endpoint, {
      headers: { authorization: `Bearer ${opts.token}` },
      signal: abort ? AbortSignal.any([timeout, abort]) : timeout,
    });
    try {
      return await client.request<T>(document, variables);
    } catch (err) {
      throw toOutpostError(err, endpoint);
    }
  }

  return {
    async registerAgent(input) {
      const r = await call<{ registerAgent: { agentId: string; heartbeatIntervalMs: number } }>(
        `mutation($input: RegisterAgentInput!) { registerAgent(input: $input) { agentId heartbeatIntervalMs } }`,
        { input },
      );
      return r.registerAgent;
    },
    async claimWork(agentId, limit, waitMs, signal, acks) {
      const r = await call<{ claimWork: ClaimedWorkItem[] }>(
        `mutation($agentId: ID!, $limit: Int!, $waitMs: Int!, $acks: [WorkAckInput!]) { claimWork(agentId: $agentId, limit: $limit, waitMs: $waitMs, acks: $acks) { ${WORK_ITEM_FIELDS} } }`,
        { agentId, limit, waitMs, ...(acks?.length ? { acks } : {}) },
        waitMs,
        signal,
      );
      return r.claimWork;
    },
    async ackWork(agentId, id, workflowId) {
      await call(
        `mutation($agentId: ID!, $id: ID!, $workflowId: String!) { ackWork(agentId: $agentId, id: $id, workflowId: $workflowId) { id } }`,
        { agentId, id, workflowId },
      );
    },
    async completeWork(agentId, id, result) {
      await call(
        `mutation($agentId: ID!, $id: ID!, $result: JSON!) { completeWork(agentId: $agentId, id: $id, result: $result) { id } }`,
        { agentId, id, result },
      );
    },
    async failWork(agentId, id, error) {
      await call(
        `mutation($agentId: ID!, $id: ID!, $error: WorkErrorInput!) { failWork(agentId: $agentId, id: $id, error: $error) { id } }`,
        { agentId, id, error },
      );
    },
    async workspace(agentId) {
      const r = await call<{ workspace: WorkspaceEntry[] }>(
        `query($agentId: ID!) { workspace(agentId: $agentId) { name version spec } }`,
        { agentId },
      );
      return r.workspace;
    },
    async reportCodeLocation(input) {
      const r = await call<{ reportCodeLocation: boolean }>(
        `mutation($input: ReportCodeLocationInput!) { reportCodeLocation(input: $input) }`,
        { input },
      );
      return r.reportCodeLocation;
    },
    async reportRunLaunched(agentId, runId, info) {
      const r = await call<{ reportRunLaunched: RunStatus }>(
        `mutation($agentId: ID!, $runId: ID!, $info: JSON) { reportRunLaunched(agentId: $agentId, runId: $runId, info: $info) }`,
        { agentId, runId, info },
      );
      return r.reportRunLaunched;
    },
    async appendRunEvents(agentId, runId, events) {
      const r = await call<{ appendRunEvents: { highestContiguousSeq: number; status: RunStatus } }>(
        `mutation($agentId: ID!, $runId: ID!, $events: [RunEventInput!]!) { appendRunEvents(agentId: $agentId, runId: $runId, events: $events) { highestContiguousSeq status } }`,
        { agentId, runId, events },
      );
      return r.appendRunEvents;
    },
    async appendComputeLogs(agentId, runId, stream, offset, data) {
      const r = await call<{ appendComputeLogs: { storedBytes: number; truncated: boolean } }>(
        `mutation($agentId: ID!, $runId: ID!, $stream: ComputeLogStream!, $offset: Float!, $data: String!) { appendComputeLogs(agentId: $agentId, runId: $runId, stream: $stream, offset: $offset, data: $data) { storedBytes truncated } }`,
        // The API's enum values are UPPER_CASE; the agent names streams as its spool files do.
        { agentId, runId, stream: stream.toUpperCase(), offset, data: data.toString('base64') },
      );
      return r.appendComputeLogs;
    },
    async runCursor(agentId, runId) {
      const r = await call<{ runCursor: RunCursor }>(
        `query($agentId: ID!, $runId: ID!) { runCursor(agentId: $agentId, runId: $runId) { runId lastSeq stdoutBytes stderrBytes status } }`,
        { agentId, runId },
      );
      return r.runCursor;
    },
  };
}

/** Maps a graphql-request failure to an OutpostError, keeping the server's code when it sent one. */
export function toOutpostError(err: unknown, endpoint: string): OutpostError {
  if (err instanceof ClientError) {
    const first = err.response.errors?.[0];
    const code = (first?.extensions as { code?: unknown } | undefined)?.code;
    const name = typeof code === 'string' ? code.replace(/^OUTPOST_ERR_/, '') : undefined;
    const status = err.response.status;
    if (name && name in ERRORS) {
      return new OutpostError(name as ErrorName, { detail: first?.message ?? err.message, cause: err });
    }
    if (status === 401) return new OutpostError('UNAUTHENTICATED', { detail: `${endpoint} refused the agent token` });
    if (status === 403) return new OutpostError('FORBIDDEN', { detail: `${endpoint} refused the agent token` });
    if (status >= 500 || status === 0) {
      return new OutpostError('CONTROL_PLANE_UNAVAILABLE', { detail: `${endpoint} answered ${status}`, cause: err });
    }
    return new OutpostError('INTERNAL', {
      detail: `${endpoint}: ${first?.message ?? `HTTP ${status}`}`,
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new OutpostError('CONTROL_PLANE_UNAVAILABLE', { detail: `${endpoint}: ${message}`, cause: err });
}
