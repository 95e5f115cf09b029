// The one error registry. Every error Outpost raises on purpose has a stable code
// (`OUTPOST_ERR_<NAME>`), a message, a hint saying what to do next, and an
// HTTP status that the GraphQL layer and the CLI map it to.

interface ErrorSpec {
  /** HTTP status when this error is the whole answer (and `extensions.http` in GraphQL). */
  readonly http: number;
  /** What went wrong, in one sentence. */
  readonly message: string;
  /** What the user should do next. */
  readonly hint: string;
}

const spec = (http: number, message: string, hint: string): ErrorSpec => ({ http, message, hint });

export const ERRORS = {
  // --- configuration and environment
  CONFIG_INVALID: spec(400, 'Configuration is invalid', 'Fix the flag or environment variable named in the detail.'),
  ISOLATION_UNAVAILABLE: spec(
    500,
    'The requested isolation of user code is not available on this host',
    'Install bubblewrap (`apt-get install bubblewrap`) and allow it namespaces, or start the agent with --isolation auto or none.',
  ),
  ISOLATION_PATH_HIDDEN: spec(
    400,
    'User code may not run from, or load its module out of, a directory the sandbox hides (the agent’s data directory or its token file’s directory)',
    'Deploy the location with a workingDirectory and module outside those directories (the detail names the one in the way).',
  ),
  TEMPORAL_CLI_NOT_FOUND: spec(
    500,
    'The Temporal CLI was not found',
    'Unset OUTPOST_TEMPORAL_BIN or point it at a working `temporal` binary.',
  ),
  TEMPORAL_CLI_GO_MISSING: spec(
    500,
    'Go is needed to build the Temporal CLI',
    'Install Go (>= 1.22) or set OUTPOST_TEMPORAL_BIN to an existing `temporal` binary.',
  ),
  TEMPORAL_CLI_BUILD_FAILED: spec(
    500,
    'Building the Temporal CLI failed',
    'Read the go output above; check that the Go module proxy is reachable.',
  ),
  TEMPORAL_START_FAILED: spec(
    500,
    'The Temporal dev server did not become ready',
    'Check the server log named in the detail, and that its ports are free.',
  ),
  TEMPORAL_SEARCH_ATTRIBUTES_MISSING: spec(
    500,
    "The Temporal namespace lacks Outpost's search attributes, so no workflow of the agent could start",
    'Register each one the detail names as a Keyword (`temporal operator search-attribute create --namespace <ns> --name <name> --type Keyword`), then start the agent again.',
  ),
  TEMPORAL_UNAVAILABLE: spec(
    503,
    'Temporal could not be reached, or did not answer in time',
    'Check --temporal-address / OUTPOST_TEMPORAL_ADDRESS (and TLS), and that the Temporal frontend is running and answering (`temporal operator namespace describe <namespace> --address <address>`). A running or starting agent waits and asks again on its own; work stays queued meanwhile.',
  ),
  TEMPORAL_TLS_FAILED: spec(
    502,
    'The TLS handshake with Temporal failed',
    'The agent and the Temporal frontend disagree on TLS: check --temporal-tls-ca (the CA that signed the server certificate), --temporal-tls-cert / --temporal-tls-key (the client certificate) and --temporal-tls-server-name against how the frontend is served (TLS or plaintext); then start the agent again. Retrying cannot fix this.',
  ),
  PORT_IN_USE: spec(
    409,
    'A port is already in use',
    'Stop the process using it, or change the port with the flag named in the detail.',
  ),
  POSTGRES_UNAVAILABLE: spec(
    503,
    'PostgreSQL could not be reached',
    "Retry shortly: the control plane reconnects by itself once PostgreSQL is back. Operators: check OUTPOST_DATABASE_URL, that the server is running, and the control plane's log (it has the address tried and PostgreSQL's words).",
  ),
  POSTGRES_REFUSED: spec(
    503,
    'PostgreSQL refused the control plane (its sign-in, its database, or a table its migrations create)',
    "Check the user, password and database in OUTPOST_DATABASE_URL, and that the user may create tables in its schema (GRANT CREATE ON SCHEMA public); the detail has PostgreSQL's words.",
  ),
  STORE_DISK_FULL: spec(
    503,
    "The control plane's database has no space left to write in",
    "Free space where the database keeps its files (the SQLite file of OUTPOST_DATABASE_URL and its -wal beside it, or the PostgreSQL server's data directory). Reads still answer, nothing stored is lost, and writes resume by themselves once there is room: agents retry what they could not store.",
  ),
  STORE_CLOSED: spec(
    503,
    'The metadata store is closed: the control plane is shutting down',
    'Retry once the control plane is running again (it answers /readyz).',
  ),
  DATABASE_TOO_NEW: spec(
    409,
    'The database was migrated by a newer Outpost',
    'Run that version (or a later one) against it: Outpost does not migrate a database back.',
  ),

  // --- auth
  UNAUTHENTICATED: spec(
    401,
    'Missing, invalid or revoked token',
    'Send `Authorization: Bearer <token>` with a valid token (`outpost tokens create`).',
  ),
  FORBIDDEN: spec(
    403,
    'This token may not call this API',
    'User tokens open /graphql; agent tokens open /agent/graphql.',
  ),
  CSRF: spec(403, 'Cross-site request refused', 'Reload the page and try again.'),
  HOST_NOT_ALLOWED: spec(
    403,
    'This server does not answer for the host name the request was sent to (a defence against DNS rebinding)',
    'Use http://127.0.0.1:<port> or localhost, or have the operator add the name you reach Outpost by (a DNS name, a proxy, a compose service) to --allowed-hosts / OUTPOST_ALLOWED_HOSTS (comma-separated; `*` answers any name, for a proxy that checks Host itself).',
  ),
  AGENT_ID_TAKEN: spec(
    403,
    'This agent id belongs to another agent token',
    'An agent id (kept in the agent’s data dir) is bound to the token that first registered it, even once that token is revoked. To rotate an agent’s token, an ADMIN creates the new one as its successor (`outpost tokens create --kind agent --name <name> --replaces <old token id>`) and the agent restarts with it; or start the agent with a fresh --data-dir to register as a new agent.',
  ),
  ROLE_REQUIRED: spec(
    403,
    "This token's role does not allow this action",
    'Use a token with the role named in the detail; an ADMIN creates one with `outpost tokens create --role`.',
  ),
  ROLE_ESCALATION: spec(
    403,
    'A token cannot grant a role above its own',
    'Ask a token holder with that role (or an ADMIN) to create the token.',
  ),
  PATH_NOT_ALLOWED: spec(
    403,
    'The code location names a path outside the allowed module roots',
    'Deploy a module under a root named in the detail, or have the operator add one with --module-roots / OUTPOST_MODULE_ROOTS.',
  ),

  // --- request limits and bad input
  BODY_TOO_LARGE: spec(413, 'Request body is too large', 'Send a smaller body or raise the limit named in the detail.'),
  QUERY_TOO_DEEP: spec(400, 'Query is nested too deeply', 'Flatten the query or raise the limit named in the detail.'),
  BATCH_TOO_LARGE: spec(400, 'Batch is too large', 'Split the batch or raise the limit named in the detail.'),
  QUERY_TOO_COSTLY: spec(
    400,
    'Query would do too much work',
    'Ask for fewer items (smaller `first`, fewer aliases) or raise the limit named in the detail.',
  ),
  RESPONSE_TOO_LARGE: spec(
    400,
    'The answer would be too large to send',
    'Ask for fewer items or fields, or raise the limit named in the detail.',
  ),
  INPUT_TOO_LARGE: spec(
    400,
    'An input is larger than its limit',
    'Shrink the input named in the detail, or raise its limit where the detail says how.',
  ),
  TOO_MANY_SUBSCRIPTIONS: spec(
    429,
    'This token has too many subscriptions open',
    'Close some (run pages open in other tabs, other watchers sharing this token), or raise the limit named in the detail.',
  ),
  RATE_LIMITED: spec(
    429,
    'This token sent requests faster than its rate limit',
    'Wait the seconds in the Retry-After header (or `data.retryAfterSeconds`) and retry; poll less often, or raise the limit named in the detail.',
  ),
  JSON_TOO_DEEP: spec(400, 'A JSON value is nested too deeply', 'Flatten the value; the limit is in the detail.'),
  UNSUPPORTED_MEDIA_TYPE: spec(
    415,
    'Unsupported request content type',
    'POST GraphQL as `content-type: application/json` with a body `{"query": ..., "variables": ...}`; POST /agent/logs takes `application/octet-stream`, POST /agent/events `application/x-ndjson`.',
  ),
  NO_ROUTE: spec(
    404,
    'No such endpoint',
    'The endpoints are /graphql, /agent/graphql, /agent/logs, /agent/events, /healthz, /readyz, /metrics and the web UI at /.',
  ),
  METHOD_NOT_ALLOWED: spec(405, 'Method not allowed here', 'Use POST (or GET for queries) on the GraphQL endpoint.'),
  NOT_ACCEPTABLE: spec(
    406,
    'No acceptable response type',
    'Accept application/json or application/graphql-response+json (text/event-stream for subscriptions).',
  ),
  BAD_REQUEST: spec(400, 'The request is malformed', 'Check the request against the API schema.'),
  INVALID_ARGUMENT: spec(400, 'An argument is invalid', 'Fix the argument named in the detail.'),
  TOKEN_ON_COMMAND_LINE: spec(
    400,
    'A token on the command line is refused: every process of the host reads it in /proc/<pid>/cmdline, and npm writes it to ~/.npm/_logs',
    'Set OUTPOST_TOKEN, or pass --token-file <path> (a file holding the token, mode 600).',
  ),

  // --- domain
  UNKNOWN_LOCATION: spec(
    404,
    'No code location with that name',
    'List locations with `outpost locations list`, or deploy one.',
  ),
  UNKNOWN_JOB: spec(
    404,
    'No job with that name in the location',
    'List the jobs of the location; the location may need a reload.',
  ),
  UNKNOWN_SCHEDULE: spec(404, 'No schedule with that name', 'List schedules with `outpost schedules list`.'),
  UNKNOWN_SENSOR: spec(404, 'No sensor with that name', 'List sensors with `outpost sensors list`.'),
  UNKNOWN_ASSET: spec(
    404,
    'No asset with that key in the location',
    'List the assets with `outpost assets list <location>`; keys are path parts joined with `/`.',
  ),
  UNKNOWN_RUN: spec(404, 'No run with that id', 'List runs with `outpost runs list`.'),
  UNKNOWN_AGENT: spec(404, 'No agent with that id', 'The agent must call registerAgent first.'),
  UNKNOWN_WORK_ITEM: spec(404, 'No work item with that id', 'The id may be mistyped, or the item was pruned.'),
  UNKNOWN_TOKEN: spec(404, 'No token with that id', 'List tokens with `outpost tokens list`.'),
  UNKNOWN_KIND: spec(
    400,
    'The agent does not understand this work-item kind',
    'Upgrade the agent to a version that knows the kind.',
  ),
  LOCATION_NOT_LOADED: spec(
    409,
    'The code location is not loaded',
    'Wait for the location to load, or read its load error and redeploy.',
  ),
  CONFIG_SCHEMA_VIOLATION: spec(
    400,
    "Run config does not match the job's config schema",
    'Fix the config fields listed in the detail.',
  ),
  CONFIG_SCHEMA_UNSUPPORTED: spec(
    400,
    "The job's config schema uses keywords Outpost cannot check",
    "Use JSON Schema 2020-12 keywords (custom annotations start with `x-`) in the job's config schema, then redeploy the location.",
  ),
  UNKNOWN_PARTITION: spec(
    400,
    "The partition key is missing or not in the job's partition set",
    'Pass a key of the set the detail describes (its keys, or its range and the keys nearest yours; `--partition <key>`), or none for an unpartitioned job.',
  ),
  ILLEGAL_RUN_TRANSITION: spec(
    409,
    'Illegal run status transition',
    'The run is already in a state that does not allow this change.',
  ),
  WORK_ITEM_NOT_OWNED: spec(
    409,
    'The work item is leased to another agent',
    'Only the agent holding the lease may ack or complete it.',
  ),
  RUN_NOT_OWNED: spec(
    409,
    'The run is written only by the agent that holds its launch',
    "Only the agent that claimed the run's LAUNCH_RUN item (or, once launched, the agent that launched it) may write its events, logs and status; check which agent runs it with `outpost runs show`.",
  ),
  LOCATION_NOT_OWNED: spec(
    409,
    'The code location version was not given to this agent to sync',
    "Only agents of the deployment holding the location version's SYNC_CODE_LOCATION item may report it; the agent retries once its claim lands, or reload the location.",
  ),
  RUN_EVENT_CONFLICT: spec(
    409,
    'The run event conflicts with one already stored',
    'Events are immutable: resend an event only with identical content, and end a run with one terminal event.',
  ),
  WORK_ITEM_EXHAUSTED: spec(
    409,
    'The work item failed after its maximum attempts',
    "Read the item's error, fix the cause and retry the action.",
  ),
  AGENT_UPGRADE_REQUIRED: spec(
    409,
    'The agent that answered is from before this feature and would not carry it out',
    'Upgrade the agents that serve this location to this release (control plane first, then agents), then try again; nothing was written.',
  ),
  NO_AGENT_ANSWER: spec(
    504,
    'No agent answered the code location query in time',
    'Start an agent that serves this location (`outpost agent`) or check its health, then try again.',
  ),
  WORK_ITEM_ABANDONED: spec(
    504,
    'Every agent that took the work item stopped answering before finishing it',
    "An agent was killed, overloaded or stuck mid-item: check the agents' health and logs, then retry the action (reload the location for a sync).",
  ),
  RUN_NOT_TERMINABLE: spec(409, 'The run has already finished', 'Nothing to terminate.'),
  RUN_CANCELED: spec(409, 'The run was canceled before it launched', 'Launch the job again if it should run.'),
  TICK_SUPERSEDED: spec(
    409,
    'A schedule tick was skipped: its evaluation had not begun when its next tick came due',
    'An agent or Temporal was away (see their logs). Nothing to do: a running schedule fires its latest due tick (the missed-tick policy); launch the job by hand if a skipped tick must run.',
  ),
  RUN_LAUNCH_TIMEOUT: spec(
    504,
    'The run was never launched: an agent acknowledged it, but its run worker did not start in time',
    "Check the agents' health and logs and the run's workflow in the Temporal UI, then launch the job again.",
  ),

  // --- user code
  USER_CODE_LOAD_FAILED: spec(
    500,
    'The definitions module failed to load',
    'Read the load error and fix the module, then redeploy.',
  ),
  USER_CODE_ERROR: spec(500, 'User code raised an error', 'Read the error and stack from your code.'),
  USER_CODE_TIMEOUT: spec(504, 'User code did not answer in time', 'Make the call faster or raise its timeout.'),
  CODE_SERVER_UNAVAILABLE: spec(
    503,
    'The code server is not reachable',
    'The agent restarts it; check the code server log if this persists.',
  ),
  CODE_SERVER_BAD_RESPONSE: spec(
    502,
    'The code server answered something invalid',
    'Check the SDK version of the code location.',
  ),

  // --- Dagster code locations
  DAGSTER_PYTHON_MISSING: spec(
    500,
    'No usable python3 was found to build a Dagster venv',
    'Install Python 3.9+ with the venv module (Debian: python3-venv), or set OUTPOST_PYTHON3.',
  ),
  DAGSTER_VENV_BUILD_FAILED: spec(
    500,
    'Building the Dagster venv failed',
    'Read the pip output in the detail; check that the Python package registry is reachable.',
  ),
  DAGSTER_UNSUPPORTED_VERSION: spec(
    400,
    'The Dagster version of the code location is not supported',
    'Install a dagster version in the supported range into the interpreter and redeploy.',
  ),
  UNSUPPORTED_DAGSTER_FEATURE: spec(
    422,
    'The Dagster code asked for something Outpost cannot act on yet',
    'The detail names the feature (e.g. a sensor result with dynamic-partition requests or asset events); return only run requests, skips and cursor updates, or see the README for what Outpost supports.',
  ),

  // --- agent
  CONTROL_PLANE_UNAVAILABLE: spec(
    503,
    'The control plane is not reachable',
    'Check that the control plane is running (`npm start`, or `outpost control-plane`) and that OUTPOST_URL (or --url) names it; an agent keeps retrying with backoff by itself.',
  ),
  RUN_WORKER_SPAWN_FAILED: spec(
    500,
    'The run worker process could not be started',
    'Check the agent log for the spawn error.',
  ),
  RUN_WORKER_EXITED: spec(
    500,
    'The run worker exited without a terminal event',
    "Read the run's stderr log for the cause.",
  ),
  RUN_EVENT_TOO_LARGE: spec(
    413,
    "A line of the run's event spool was longer than the agent reads whole: it was not shipped",
    "The event named in the detail was replaced by one saying so; the rest of the run was shipped. Log less in one event (the SDK cuts ctx.log at maxLogMessageBytes and maxLogDataBytes); the whole line is still in the run's spool on the agent host.",
  ),
  RUN_SPOOL_DISK_FULL: spec(
    507,
    "The agent's spool filesystem has no space left: the run worker could not write its events or logs",
    "Free space on the filesystem of the agent's --data-dir (each run keeps its events and logs in runs/<runId>/spool there; those of ended runs are stored by the control plane and may be deleted), or start the agent with a --data-dir on a larger one; then launch the run again. What the run wrote before is kept.",
  ),

  INTERNAL: spec(500, 'Internal error', 'Report this with the server log.'),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorName = keyof typeof ERRORS;
export type ErrorCode = `OUTPOST_ERR_${ErrorName}`;

export const errorCode = (name: ErrorName): ErrorCode => `OUTPOST_ERR_${name}`;

export interface OutpostErrorOptions {
  /** Specific facts: which limit, which job, which field. Never a secret. */
  detail?: string;
  cause?: unknown;
  /** Structured data for API clients (e.g. `{ limit: 1048576 }`). */
  data?: Record<string, unknown>;
}

export class OutpostError extends Error {
  override readonly name = 'OutpostError';
  readonly code: ErrorCode;
  readonly errorName: ErrorName;
  readonly http: number;
  readonly hint: string;
  readonly detail: string | undefined;
  readonly data: Record<string, unknown> | undefined;

  constructor(name: ErrorName, opts: OutpostErrorOptions = {}) {
    const s = ERRORS[name];
    super(opts.detail ? `${s.message}: ${opts.detail}` : s.message, { cause: opts.cause });
    this.errorName = name;
    this.code = errorCode(name);
    this.http = s.http;
    this.hint = s.hint;
    this.detail = opts.detail;
    this.data = opts.data;
  }

  /** The shape put into GraphQL `extensions` and CLI `--json` errors. */
  toJSON(): { code: ErrorCode; message: string; hint: string; http: number; data?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      http: this.http,
      ...(this.data ? { data: this.data } : {}),
    };
  }
}

export const isOutpostError = (e: unknown, name?: ErrorName): e is OutpostError =>
  e instanceof OutpostError && (name === undefined || e.errorName === name);

/** Fields for a log line about a failure: its message, and for a coded error its code and what to do. */
export function errorLogFields(e: unknown): { err: string; code?: ErrorCode; hint?: string; cause?: string } {
  if (e instanceof OutpostError) {
    // The cause's words (a database's, naming its address) are for the log, not for callers.
    const cause = e.cause instanceof Error ? e.cause.message : undefined;
    return { code: e.code, err: e.message, hint: e.hint, ...(cause && cause !== e.detail ? { cause } : {}) };
  }
  return { err: e instanceof Error ? e.message : String(e) };
}

/** Human one-liner for terminals: code, message, then what to do. */
export function formatError(e: unknown): string {
  if (e instanceof OutpostError) return `${e.code}: ${e.message}\n  → ${e.hint}`;
  if (e instanceof Error) return `${errorCode('INTERNAL')}: ${e.message}`;
  return `${errorCode('INTERNAL')}: ${String(e)}`;
}
