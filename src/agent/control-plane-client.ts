// The agent's only way to talk to the control plane: typed calls to /agent/graphql
// (src/control-plane/graphql/agent.graphql) as plain JSON POSTs over fetch, sending the documents
// in control-plane-documents.ts with the types generated for them (src/gen/graphql/agent.ts).
// Transport failures become CONTROL_PLANE_UNAVAILABLE (retryable); GraphQL errors keep their
// OUTPOST_ERR_* code so callers can tell "try again" from "this will never work".
// No GraphQL client library: graphql-request parses every document with graphql-js, which kept
// ~10 MB of graphql-js resident in every agent for the sake of reading an operation's name.
import type {
  AgentOperations,
  CodeLocationStatus,
  RegisterAgentInput,
  ReportCodeLocationInput,
  RunCursorQuery,
  WorkAckInput,
  WorkErrorInput,
  WorkspaceQuery,
  ClaimWorkMutation,
} from '../gen/graphql/agent.js';
import { OutpostError, type ErrorName, ERRORS } from '../shared/errors.js';
import type { RunEvent, ComputeLogStream } from '../shared/run-events.js';
import type { WorkItemKind } from '../shared/work-items.js';
import { AGENT_DOCUMENTS } from './control-plane-documents.js';

// The types below come from the generated src/gen/graphql/agent.ts (npm run gen:graphql); only
// JSON fields are narrowed: a work item's payload and a location's spec are JSON objects.
type ClaimedWorkItemResult = ClaimWorkMutation['claimWork'][number];
export type ClaimedWorkItem = Omit<ClaimedWorkItemResult, 'kind' | 'payload'> & {
  kind: WorkItemKind | (string & {});
  payload: Record<string, unknown>;
};

/** A claimed item whose workflow exists, to be acked. */
export type WorkAck = WorkAckInput;

export type WorkspaceEntry = Omit<WorkspaceQuery['workspace'][number], 'spec'> & { spec: Record<string, unknown> };

export type RunCursor = RunCursorQuery['runCursor'];

export interface CodeServerStatusReport {
  location: string;
  status: CodeLocationStatus;
  error?: string;
}

/** The agent API as the agent uses it. Activities and the poller depend on this interface. */
export interface ControlPlaneClient {
  registerAgent(input: RegisterAgentInput): Promise<AgentOperations['RegisterAgent']['result']['registerAgent']>;
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
  failWork(agentId: string, id: string, error: WorkErrorInput): Promise<void>;
  workspace(agentId: string): Promise<WorkspaceEntry[]>;
  reportCodeLocation(input: ReportCodeLocationInput): Promise<boolean>;
  /**
   * The worker is launched (QUEUED -> STARTING), with its first events (`lines`: spool lines,
   * NDJSON, possibly empty) stored in the same call; answers the cursor after them.
   */
  reportRunLaunchedWithEvents(
    agentId: string,
    runId: string,
    info: Record<string, unknown>,
    lines: string,
  ): Promise<RunCursor>;
  // Run writes and the cursor are accepted only from the agent holding the run's launch (RUN_NOT_OWNED otherwise).
  /**
   * Sent as NDJSON (appendRunEventLines): `lines` is `events` as the spool holds them, one JSON
   * object per line, when the caller has it (the shipper forwards spool lines without re-encoding).
   */
  appendRunEvents(
    agentId: string,
    runId: string,
    events: RunEvent[],
    lines?: string,
  ): Promise<AgentOperations['AppendRunEventLines']['result']['appendRunEventLines']>;
  appendComputeLogs(
    agentId: string,
    runId: string,
    stream: ComputeLogStream,
    offset: number,
    data: Buffer,
  ): Promise<AgentOperations['AppendComputeLogs']['result']['appendComputeLogs']>;
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

/** Joins the base URL and the agent API path, tolerating a trailing slash or a full endpoint URL. */
export function agentEndpoint(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return trimmed.endsWith('/agent/graphql') ? trimmed : `${trimmed}/agent/graphql`;
}

export function createControlPlaneClient(opts: ControlPlaneClientOptions): ControlPlaneClient {
  const endpoint = agentEndpoint(opts.url);
  const baseTimeout = opts.timeoutMs ?? 30_000;

  /** Sends the named document (control-plane-documents.ts) with variables and result typed for it. */
  async function call<K extends keyof AgentOperations>(
    operation: K,
    variables: AgentOperations[K]['variables'],
    extraWaitMs = 0,
    abort?: AbortSignal,
  ): Promise<AgentOperations[K]['result']> {
    const timeout = AbortSignal.timeout(baseTimeout + extraWaitMs);
    try {
      // The global fetch: undici's shared pool keeps connections alive between calls.
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${opts.token}`,
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
        },
        body: JSON.stringify({ query: AGENT_DOCUMENTS[operation], variables, operationName: operation }),
        signal: abort ? AbortSignal.any([timeout, abort]) : timeout,
      });
      const text = await res.text();
      let body: GraphQLBody | undefined;
      try {
        body = JSON.parse(text) as GraphQLBody;
      } catch {
        body = undefined;
      }
      if (!res.ok || body?.errors?.length) {
        throw new ControlPlaneResponseError(res.status, body?.errors);
      }
      if (!body || body.data === undefined || body.data === null) {
        // A 2xx that is not a GraphQL result (a proxy's page, a cut body): the transport failed.
        throw new Error(`HTTP ${res.status} without a GraphQL result`);
      }
      return body.data as AgentOperations[K]['result'];
    } catch (err) {
      throw toOutpostError(err, endpoint);
    }
  }

  return {
    async registerAgent(input) {
      return (await call('RegisterAgent', { input })).registerAgent;
    },
    async claimWork(agentId, limit, waitMs, signal, acks) {
      const r = await call('ClaimWork', { agentId, limit, waitMs, ...(acks?.length ? { acks } : {}) }, waitMs, signal);
      // A work item's payload is a JSON object (src/shared/work-items.ts PayloadSchemas).
      return r.claimWork as ClaimedWorkItem[];
    },
    async ackWork(agentId, id, workflowId) {
      await call('AckWork', { agentId, id, workflowId });
    },
    async completeWork(agentId, id, result) {
      await call('CompleteWork', { agentId, id, result });
    },
    async failWork(agentId, id, error) {
      await call('FailWork', { agentId, id, error });
    },
    async workspace(agentId) {
      // A location's spec is a JSON object (the deployed CodeLocationSpec).
      return (await call('Workspace', { agentId })).workspace as WorkspaceEntry[];
    },
    async reportCodeLocation(input) {
      return (await call('ReportCodeLocation', { input })).reportCodeLocation;
    },
    async reportRunLaunchedWithEvents(agentId, runId, info, lines) {
      return (await call('ReportRunLaunchedWithEvents', { agentId, runId, info, lines })).reportRunLaunchedWithEvents;
    },
    async appendRunEvents(agentId, runId, events, lines) {
      const ndjson = lines ?? events.map((e) => JSON.stringify(e)).join('\n');
      return (await call('AppendRunEventLines', { agentId, runId, lines: ndjson })).appendRunEventLines;
    },
    async appendComputeLogs(agentId, runId, stream, offset, data) {
      const r = await call('AppendComputeLogs', {
        agentId,
        runId,
        // The API's enum values are UPPER_CASE; the agent names streams as its spool files do.
        stream: stream === 'stdout' ? 'STDOUT' : 'STDERR',
        offset,
        data: data.toString('base64'),
      });
      return r.appendComputeLogs;
    },
    async runCursor(agentId, runId) {
      return (await call('RunCursor', { agentId, runId })).runCursor;
    },
  };
}

interface GraphQLErrorBody {
  message?: string;
  extensions?: { code?: unknown };
}

interface GraphQLBody {
  data?: unknown;
  errors?: GraphQLErrorBody[];
}

/** An answer that is not a clean `{data}`: an HTTP error status or GraphQL errors. */
export class ControlPlaneResponseError extends Error {
  constructor(
    readonly status: number,
    readonly errors: GraphQLErrorBody[] | undefined,
  ) {
    super(errors?.[0]?.message ?? `HTTP ${status}`);
    this.name = 'ControlPlaneResponseError';
  }
}

/** Maps a failed call to an OutpostError, keeping the server's code when it sent one. */
export function toOutpostError(err: unknown, endpoint: string): OutpostError {
  if (err instanceof ControlPlaneResponseError) {
    const first = err.errors?.[0];
    const code = first?.extensions?.code;
    const name = typeof code === 'string' ? code.replace(/^OUTPOST_ERR_/, '') : undefined;
    const status = err.status;
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
