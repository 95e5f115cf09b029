// Request limits of the HTTP and GraphQL layer. Each is named in the error that reports it,
// with its value and the flag / environment variable that raises it.
import {
  MAX_FAILURE_CODE_LENGTH,
  MAX_FAILURE_MESSAGE_LENGTH,
  MAX_TICK_MESSAGE_LENGTH,
} from '../shared/message-limits.js';

export interface ApiLimits {
  /** Largest request body in bytes (the agent API's; the user API's is maxUserBodyBytes). Default 16 MiB. */
  maxBodyBytes: number;
  /**
   * Largest user-API (/graphql) request body in bytes, at most maxBodyBytes. Default 1 MiB: the
   * largest user inputs are a run config (maxRunConfigBytes, 256 KiB) and a sensor cursor (256
   * KiB). Parsing a body costs CPU on the event loop in proportion to its values (16 MiB of
   * `[[],[],…]` took ~2 s per parse, measured), and any VIEWER may send one.
   */
  maxUserBodyBytes: number;
  /** Deepest selection nesting in an operation. Default 15. */
  maxQueryDepth: number;
  /**
   * Largest static cost of an operation: each field counts once per time it would resolve, a
   * list multiplies its subtree by its `first` (or 10 when it has none). Default 100000: the
   * web UI's heaviest page costs about a third of that; 3,000 aliased `events(first: 1000)` cost 24 M.
   */
  maxQueryCost: number;
  /** Most fields (aliases included, fragments expanded) in one operation. Default 500. */
  maxQueryFields: number;
  /**
   * Most mutation fields (aliases included, fragments expanded) in one request, on either API.
   * Default 10: the web UI, the CLI and the agent send one. Mutations run one after another, each
   * a write and (user API) an audit row, and some wait for an agent (queryCodeLocation up to
   * maxWaitMs): 499 aliased ones, all the field limit allowed, held a request for hours.
   */
  maxMutationsPerRequest: number;
  /** Most lexical tokens in a GraphQL document (parsing stops there). Default 20000. */
  maxQueryTokens: number;
  /** Largest JSON answer in bytes; a backstop behind the cost limit. Default 32 MiB. */
  maxResponseBytes: number;
  /** Most events per appendRunEvents call. Default 10000. */
  maxEventsPerBatch: number;
  /** Most items per claimWork call. Default 100. */
  maxClaimBatch: number;
  /** Longest claimWork long-poll; longer waits are shortened to this. Default 60 s. */
  maxWaitMs: number;
  /** Largest decoded appendComputeLogs chunk in bytes. Default 4 MiB. */
  maxLogChunkBytes: number;
  /** Largest `first` of a list query. Default 1000. */
  maxPageSize: number;
  /**
   * Largest launchRun runConfig, as JSON bytes. Default 256 KiB: the launch travels as a
   * Temporal workflow input, which Temporal refuses past 2 MB (and warns past 512 KB).
   */
  maxRunConfigBytes: number;
  /** Most tags on a run. Default 100. */
  maxRunTags: number;
  /** Largest run tags object, as JSON bytes. Default 16 KiB. */
  maxRunTagsBytes: number;
  /**
   * Most `runEvents` subscriptions open at once per token (per control-plane process); each
   * costs a store read and a token read per wake-up or per second. Default 64: the web UI opens
   * one per run page that is open in a tab (and closes it on leaving the page), the CLI none; a
   * browser over HTTP/1.1 holds at most 6 connections to a host, so 64 leaves room for several
   * browsers over HTTP/2 and scripts sharing one token. A refused web UI page polls instead.
   */
  maxSubscriptionsPerToken: number;
  /**
   * User-API requests per second per token, sustained (http/request-budget.ts): a request counts
   * one, and each mutation in it one more. Past it, RATE_LIMITED (429, Retry-After). Default 50.
   */
  maxRequestsPerSecondPerToken: number;
  /**
   * Requests a token may send at once before maxRequestsPerSecondPerToken applies (the bucket's
   * size). Default 500: room for a page of launches (the web UI and CLI send a few per action).
   */
  maxRequestBurstPerToken: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  maxBodyBytes: 16 * 1024 * 1024,
  maxUserBodyBytes: 1024 * 1024,
  maxQueryDepth: 15,
  maxQueryCost: 100_000,
  maxQueryFields: 500,
  maxMutationsPerRequest: 10,
  maxQueryTokens: 20_000,
  maxResponseBytes: 32 * 1024 * 1024,
  maxEventsPerBatch: 10_000,
  maxClaimBatch: 100,
  maxWaitMs: 60_000,
  maxLogChunkBytes: 4 * 1024 * 1024,
  maxPageSize: 1000,
  maxRunConfigBytes: 256 * 1024,
  maxRunTags: 100,
  maxRunTagsBytes: 16 * 1024,
  maxSubscriptionsPerToken: 64,
  maxRequestsPerSecondPerToken: 50,
  maxRequestBurstPerToken: 500,
};

/**
 * Fixed input limits (no flag: no legitimate input comes near them). JSON deeper than
 * maxJsonDepth is refused by the JSON scalar before anything recursive sees it.
 */
export const FIXED_INPUT_LIMITS = {
  maxJsonDepth: 64,
  /**
   * Arrays and objects nested in a GraphQL request body, on either API (its JSON text, read
   * before it is parsed): room for the body, its variables and input objects around a
   * maxJsonDepth value.
   */
  maxBodyNesting: 64 + 16,
  /**
   * Brackets nested in one GraphQL document, checked on its text before graphql-js's recursive
   * parser (which overflows the stack a few thousand deep). Far above maxQueryDepth + maxJsonDepth.
   */
  maxDocumentNesting: 256,
  /** Token names: printable, no control or bidi-override characters. */
  maxTokenNameLength: 128,
  /**
   * A deployed code location's spec (module, command, workingDirectory, env, dagster), as JSON
   * bytes: stored with every version, read by every agent's sync, and its env handed to every
   * code server and run worker, where the kernel refuses one variable past 128 KiB (E2BIG).
   */
  maxLocationSpecBytes: 64 * 1024,
  /** Code location names: a safe identifier, `^[A-Za-z0-9][A-Za-z0-9_.-]*$` minus `..`. */
  maxLocationNameLength: 64,
  /** Heartbeat `errors`: at most this many strings... */
  maxHeartbeatErrors: 50,
  /** ...of at most this many characters each. */
  maxHeartbeatErrorLength: 4096,
  /** Heartbeat `codeServers` and `runningRunIds`: at most this many entries each. */
  maxHeartbeatEntries: 10_000,
  /** Agent metadata and short agent fields (name, hostname, version, task queue). */
  maxAgentMetadataBytes: 16 * 1024,
  maxAgentFieldLength: 256,
  /**
   * A sensor cursor sent to testSensor, in bytes. Like a run config it travels to the agent as a
   * Temporal workflow input, which Temporal refuses past 2 MB.
   */
  maxSensorCursorBytes: 256 * 1024,
  /**
   * queryCodeLocation's partitionKey, opSelection and assetSelection together, in JSON bytes:
   * unlike a launch's, nothing checks them against the location before they are queued, and
   * they travel to the agent in the same Temporal workflow input as the run config. A launch's
   * and a schedule's or sensor's run request's opSelection and assetSelection are held to it
   * too: each key is the location's, but a location may have very many.
   */
  maxQuerySelectionBytes: 64 * 1024,
  /**
   * Run requests one schedule or sensor evaluation may return: its runs are made in one
   * transaction, which holds the database's write lock (SQLite) for as long as it takes.
   */
  maxRunRequestsPerTick: 1000,
  /**
   * A run request's run key, in bytes. It becomes the run's dedupe key, under a unique index,
   * whose entries PostgreSQL refuses past ~2.7 KB.
   */
  maxRunKeyBytes: 1024,
  /**
   * The name of a job, schedule or sensor in a location's reported definitions, in characters.
   * Names become keys the store indexes (a tick's dedupe key, a run's job), whose entries
   * PostgreSQL refuses past ~2.7 KB; a location naming one longer is ERROR, naming this.
   */
  maxDefinitionNameLength: 256,
  /**
   * An asset event's key, in bytes, for it to be indexed (location, key) for the asset view;
   * PostgreSQL refuses index entries past ~2.7 KB. A longer key's event is stored, not indexed.
   */
  maxAssetKeyBytes: 1024,
  /**
   * A tick's skip reason or error (user code's words), in characters: kept with every tick and
   * listed 25 an instigator on the web UI's automation page. A longer one is cut, saying so
   * (the agent cuts it too, where it reads the evaluation: shared/message-limits.ts).
   */
  maxTickMessageLength: MAX_TICK_MESSAGE_LENGTH,
  /**
   * A work item's failure message and code (failWork), in characters: a launch's is shown as
   * its run's ENGINE event. Longer ones are cut, saying so (the agent cuts them before sending).
   */
  maxFailureMessageLength: MAX_FAILURE_MESSAGE_LENGTH,
  maxFailureCodeLength: MAX_FAILURE_CODE_LENGTH,
} as const;

/** The flag and environment variable that set each configurable limit, for error details. */
export const LIMIT_SOURCES: Partial<Record<keyof ApiLimits, { flag: string; env: string }>> = {
  maxBodyBytes: { flag: '--max-body-bytes', env: 'OUTPOST_MAX_BODY_BYTES' },
  maxUserBodyBytes: { flag: '--max-user-body-bytes', env: 'OUTPOST_MAX_USER_BODY_BYTES' },
  maxQueryDepth: { flag: '--max-query-depth', env: 'OUTPOST_MAX_QUERY_DEPTH' },
  maxQueryCost: { flag: '--max-query-cost', env: 'OUTPOST_MAX_QUERY_COST' },
  maxQueryFields: { flag: '--max-query-fields', env: 'OUTPOST_MAX_QUERY_FIELDS' },
  maxQueryTokens: { flag: '--max-query-tokens', env: 'OUTPOST_MAX_QUERY_TOKENS' },
  maxMutationsPerRequest: { flag: '--max-mutations-per-request', env: 'OUTPOST_MAX_MUTATIONS_PER_REQUEST' },
  maxResponseBytes: { flag: '--max-response-bytes', env: 'OUTPOST_MAX_RESPONSE_BYTES' },
  maxEventsPerBatch: { flag: '--max-events-per-batch', env: 'OUTPOST_MAX_EVENTS_PER_BATCH' },
  maxClaimBatch: { flag: '--max-claim-batch', env: 'OUTPOST_MAX_CLAIM_BATCH' },
  maxRunConfigBytes: { flag: '--max-run-config-bytes', env: 'OUTPOST_MAX_RUN_CONFIG_BYTES' },
  maxRunTags: { flag: '--max-run-tags', env: 'OUTPOST_MAX_RUN_TAGS' },
  maxRunTagsBytes: { flag: '--max-run-tags-bytes', env: 'OUTPOST_MAX_RUN_TAGS_BYTES' },
  maxSubscriptionsPerToken: { flag: '--max-subscriptions-per-token', env: 'OUTPOST_MAX_SUBSCRIPTIONS_PER_TOKEN' },
  maxRequestsPerSecondPerToken: {
    flag: '--max-requests-per-second-per-token',
    env: 'OUTPOST_MAX_REQUESTS_PER_SECOND_PER_TOKEN',
  },
  maxRequestBurstPerToken: { flag: '--max-request-burst-per-token', env: 'OUTPOST_MAX_REQUEST_BURST_PER_TOKEN' },
};

/** "<what>; the limit maxX is N (raise it with --max-x or OUTPOST_MAX_X)". */
export function limitDetail(name: string, value: number, what: string): string {
  const src = LIMIT_SOURCES[name as keyof ApiLimits];
  const raise = src ? ` (raise it with ${src.flag} or ${src.env})` : ' (fixed)';
  return `${what}; the limit ${name} is ${value}${raise}`;
}
