// The agent's only way to talk to the control plane: typed calls to /agent/graphql
// (src/control-plane/graphql/agent.graphql) as plain JSON POSTs over node:http (raw-post.ts), sending the documents
// in control-plane-documents.ts with the types generated for them (src/gen/graphql/agent.ts),
// except run events and compute logs, which go as they lie in the spool to POST /agent/events and
// /agent/logs (the mutations remain the fallback for a control plane without them).
// Transport failures become CONTROL_PLANE_UNAVAILABLE (retryable); error answers keep their
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
  ClaimWorkWithCursorsMutation,
} from '../gen/graphql/agent.js';
import { OutpostError, type ErrorName, ERRORS, isOutpostError } from '../shared/errors.js';
import type { RunEvent, ComputeLogStream } from '../shared/run-events.js';
import { boundedFailure } from '../shared/message-limits.js';
import type { WorkItemKind } from '../shared/work-items.js';
import { AGENT_DOCUMENTS } from './control-plane-documents.js';
import { createRawPoster, type RawAnswer } from './raw-post.js';
import { RunCursorBatcher } from './run-cursor-batch.js';

// The types below come from the generated src/gen/graphql/agent.ts (npm run gen:graphql); only
// JSON fields are narrowed: a work item's payload and a location's spec are JSON objects.
type ClaimedWorkItemResult = ClaimWorkWithCursorsMutation['claimWork'][number];
export type ClaimedWorkItem = Omit<ClaimedWorkItemResult, 'kind' | 'payload' | 'runCursor'> & {
  kind: WorkItemKind | (string & {});
  payload: Record<string, unknown>;
  /** Only when the claim asked for it (`launchCursors`), and only for LAUNCH_RUN items. */
  runCursor?: ClaimedWorkItemResult['runCursor'];
};

/** A claimed item whose workflow exists, to be acked. */
export type WorkAck = WorkAckInput;

export type WorkspaceEntry = Omit<WorkspaceQuery['workspace'][number], 'spec'> & { spec: Record<string, unknown> };

export type RunCursor = RunCursorQuery['runCursor'];
/**
 * The run cursor the spool retention sweep judges by: `logsTruncated` says whether the control
 * plane's log cap dropped output; null from a control plane too old to say (then nothing proves
 * that its logs are whole).
 */
export type RetentionCursor = RunCursor & { logsTruncated: boolean | null };

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
   * `launchCursors`: each LAUNCH_RUN item comes with its run's cursor (`runCursor`), so an agent
   * that launches what it claims needs no runCursor request for the pre-launch check; default false.
   */
  claimWork(
    agentId: string,
    limit: number,
    waitMs: number,
    signal?: AbortSignal,
    acks?: WorkAck[],
    opts?: { launchCursors?: boolean },
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
  /** Sent as NDJSON, one JSON object per event (appendRunEventLines below). */
  appendRunEvents(
    agentId: string,
    runId: string,
    events: RunEvent[],
  ): Promise<AgentOperations['AppendRunEventLines']['result']['appendRunEventLines']>;
  /**
   * A batch of NDJSON lines as the spool holds them (the shipper forwards spool lines without
   * decoding them): POST /agent/events, or the appendRunEventLines mutation on an older control plane.
   */
  appendRunEventLines(
    agentId: string,
    runId: string,
    lines: Buffer,
  ): Promise<AgentOperations['AppendRunEventLines']['result']['appendRunEventLines']>;
  appendComputeLogs(
    agentId: string,
    runId: string,
    stream: ComputeLogStream,
    offset: number,
    data: Buffer,
  ): Promise<AgentOperations['AppendComputeLogs']['result']['appendComputeLogs']>;
  runCursor(agentId: string, runId: string): Promise<RunCursor>;
  retentionCursor(agentId: string, runId: string): Promise<RetentionCursor>;
}

export interface ControlPlaneClientOptions {
  /** Base URL of the control plane, e.g. http://127.0.0.1:3000 (the agent API is under /agent/graphql). */
  url: string;
  /** Agent token. Sent as a bearer header; never logged. */
  token: string;
  /** Per-request timeout in ms, added to any long-poll wait; default 30 s. */
  timeoutMs?: number;
  /** Called after each request the control plane answered with a 2xx (it is up and let us in). Default: none. */
  onAnswer?: () => void;
}

/** Joins the base URL and the agent API path, tolerating a trailing slash or a full endpoint URL. */
export function agentEndpoint(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return trimmed.endsWith('/agent/graphql') ? trimmed : `${trimmed}/agent/graphql`;
}

export function createControlPlaneClient(opts: ControlPlaneClientOptions): ControlPlaneClient {
  const endpoint = agentEndpoint(opts.url);
  const baseTimeout = opts.timeoutMs ?? 30_000;
  const base = endpoint.replace(/\/agent\/graphql$/, '');
  const rawPost = createRawPoster(base);
  // Calls that come while one is in flight go together (run-cursor-batch.ts).
  const cursors = new RunCursorBatcher<RunCursor>(
    async (agentId, runId) => (await call('RunCursor', { agentId, runId })).runCursor,
    async (agentId, runIds) => (await call('RunCursors', { agentId, runIds })).runCursors,
  );

  /** Sends the named document (control-plane-documents.ts) with variables and result typed for it. */
  async function call<K extends keyof AgentOperations>(
    operation: K,
    variables: AgentOperations[K]['variables'],
    extraWaitMs = 0,
    abort?: AbortSignal,
  ): Promise<AgentOperations[K]['result']> {
    const timeout = AbortSignal.timeout(baseTimeout + extraWaitMs);
    try {
      // node:http with kept-alive sockets (raw-post.ts), not fetch: undici alone held ~10 MB of
      // the idle agent (bench/footprint-dev.ts), and it is the agent's only fetch.
      const res = await rawPost(
        endpoint,
        {
          authorization: `Bearer ${opts.token}`,
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
        },
        Buffer.from(JSON.stringify({ query: AGENT_DOCUMENTS[operation], variables, operationName: operation })),
        abort ? AbortSignal.any([timeout, abort]) : timeout,
      );
      if (res.status >= 200 && res.status < 300) opts.onAnswer?.();
      const body = res.body as GraphQLBody | undefined;
      const ok = res.status >= 200 && res.status < 300;
      if (!ok || body?.errors?.length) {
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

  /**
   * Whether claims may ask for each launch's run cursor (WorkItem.runCursor); false from the
   * first refusal on (a control plane from before that field: the launch asks runCursor itself).
   */
  let claimCursors = true;

  /** Whether the control plane answers RunCursor.logsTruncated; false from its first refusal on (an older one). */
  let retentionTruncation = true;

  /** The raw-body endpoints this control plane answers; one answering NO_ROUTE (older) is not asked again. */
  const raw = { logs: true, events: true };

  /**
   * POST /agent/logs or /agent/events: the body as the spool holds it (raw bytes, NDJSON), no
   * base64 and no JSON string around it (agent-logs.ts, agent-events.ts on the control plane).
   */
  async function post<T>(path: string, query: Record<string, string>, contentType: string, body: Buffer): Promise<T> {
    const url = `${base}${path}`;
    let answer: RawAnswer;
    try {
      answer = await rawPost(
        `${url}?${new URLSearchParams(query)}`,
        { authorization: `Bearer ${opts.token}`, 'content-type': contentType },
        body,
        AbortSignal.timeout(baseTimeout),
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new OutpostError('CONTROL_PLANE_UNAVAILABLE', { detail: `${url}: ${message}`, cause: err });
    }
    if (answer.status >= 200 && answer.status < 300) opts.onAnswer?.();
    if (answer.status >= 200 && answer.status < 300) {
      // A 2xx that is not our JSON answer (a proxy's page, a cut body): the transport failed.
      if (typeof answer.body === 'object' && answer.body !== null) return answer.body as T;
      throw new OutpostError('CONTROL_PLANE_UNAVAILABLE', { detail: `${url} answered ${answer.status} without JSON` });
    }
    throw codedAnswer(answer.status, answer.body, url);
  }

  /** `fast()` while the control plane has the endpoint, else (NO_ROUTE: an older one) `fallback()` from now on. */
  async function rawOr<T>(which: keyof typeof raw, fast: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (raw[which]) {
      try {
        return await fast();
      } catch (e) {
        if (!isOutpostError(e, 'NO_ROUTE')) throw e;
        raw[which] = false;
      }
    }
    return fallback();
  }

  return {
    async registerAgent(input) {
      return (await call('RegisterAgent', { input })).registerAgent;
    },
    async claimWork(agentId, limit, waitMs, signal, acks, opts) {
      const vars = { agentId, limit, waitMs, ...(acks?.length ? { acks } : {}) };
      if (opts?.launchCursors && claimCursors) {
        try {
          const r = await call('ClaimWorkWithCursors', vars, waitMs, signal);
          // A work item's payload is a JSON object (src/shared/work-items.ts PayloadSchemas).
          return r.claimWork as ClaimedWorkItem[];
        } catch (err) {
          // Refused before it ran (validation: nothing claimed, no ack applied): asked as before.
          if (!refusesField(err, 'WorkItem', 'runCursor')) throw err;
          claimCursors = false;
        }
      }
      const r = await call('ClaimWork', vars, waitMs, signal);
      return r.claimWork as ClaimedWorkItem[];
    },
    async ackWork(agentId, id, workflowId) {
      await call('AckWork', { agentId, id, workflowId });
    },
    async completeWork(agentId, id, result) {
      await call('CompleteWork', { agentId, id, result });
    },
    async failWork(agentId, id, error) {
      // Cut as the control plane would keep it: no multi-megabyte body for it to cut.
      await call('FailWork', { agentId, id, error: boundedFailure(error) });
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
    async appendRunEvents(agentId, runId, events) {
      return this.appendRunEventLines(agentId, runId, Buffer.from(events.map((e) => JSON.stringify(e)).join('\n')));
    },
    async appendRunEventLines(agentId, runId, lines) {
      return rawOr(
        'events',
        () => post('/agent/events', { agentId, runId }, 'application/x-ndjson', lines),
        async () =>
          (await call('AppendRunEventLines', { agentId, runId, lines: lines.toString('utf8') })).appendRunEventLines,
      );
    },
    async appendComputeLogs(agentId, runId, stream, offset, data) {
      return rawOr(
        'logs',
        () => post('/agent/logs', { agentId, runId, stream, offset: String(offset) }, 'application/octet-stream', data),
        async () => {
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
      );
    },
    runCursor: (agentId, runId) => cursors.get(agentId, runId),
    async retentionCursor(agentId, runId) {
      if (retentionTruncation) {
        try {
          return (await call('RetentionCursor', { agentId, runId })).runCursor;
        } catch (err) {
          if (!refusesField(err, 'RunCursor', 'logsTruncated')) throw err;
          retentionTruncation = false;
        }
      }
      return { ...(await cursors.get(agentId, runId)), logsTruncated: null };
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

/**
 * Whether a call failed because the control plane's schema has no `type.field` (GraphQL
 * validation, graphql-js's wording: `Cannot query field "f" on type "T".`): one older than the
 * agent's document. Nothing of such a request ran.
 */
export function refusesField(err: unknown, type: string, field: string): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  const errors = cause instanceof ControlPlaneResponseError ? cause.errors : undefined;
  const said = `Cannot query field "${field}" on type "${type}"`;
  return errors?.some((e) => typeof e.message === 'string' && e.message.startsWith(said)) ?? false;
}

/** Maps a failed call to an OutpostError, keeping the server's code when it sent one. */
export function toOutpostError(err: unknown, endpoint: string): OutpostError {
  if (err instanceof ControlPlaneResponseError) return codedAnswer(err.status, { errors: err.errors }, endpoint, err);
  const message = err instanceof Error ? err.message : String(err);
  return new OutpostError('CONTROL_PLANE_UNAVAILABLE', { detail: `${endpoint}: ${message}`, cause: err });
}

/** An error answer (`{errors: [{message, extensions: {code, data}}]}`, every API's shape) as an OutpostError. */
function codedAnswer(status: number, body: unknown, endpoint: string, cause?: unknown): OutpostError {
  const first = (
    body as { errors?: { message?: string; extensions?: { code?: unknown; data?: unknown } }[] } | undefined
  )?.errors?.[0];
  const code = first?.extensions?.code;
  const name = typeof code === 'string' ? code.replace(/^OUTPOST_ERR_/, '') : undefined;
  if (name && name in ERRORS) {
    const data = first?.extensions?.data as Record<string, unknown> | undefined;
    // The server's message already starts with the code's own message: keep only its detail.
    const own = ERRORS[name as ErrorName].message;
    const message = first?.message ?? `HTTP ${status}`;
    const detail = message.startsWith(`${own}: `) ? message.slice(own.length + 2) : message;
    return new OutpostError(name as ErrorName, {
      ...(detail === own ? {} : { detail }),
      cause,
      ...(data ? { data } : {}),
    });
  }
  if (status === 401) return new OutpostError('UNAUTHENTICATED', { detail: `${endpoint} refused the agent token` });
  if (status === 403) return new OutpostError('FORBIDDEN', { detail: `${endpoint} refused the agent token` });
  if (status >= 500 || status === 0) {
    return new OutpostError('CONTROL_PLANE_UNAVAILABLE', { detail: `${endpoint} answered ${status}`, cause });
  }
  return new OutpostError('INTERNAL', { detail: `${endpoint}: ${first?.message ?? `HTTP ${status}`}`, cause });
}
