// The control plane as one fetch-style handler (graphql-yoga style): routes, auth, limits,
// health and metrics. Tests call it directly with no port; node-server.ts serves it on a socket.
import type { DocumentNode } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { OutpostError, type ErrorName } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { createAgentSchema } from '../graphql/agent-schema.js';
import type { ApiContext } from '../graphql/context.js';
import { DocumentCache } from '../graphql/document-cache.js';
import { createMaskError } from '../graphql/errors.js';
import { fastAnswer, ValidatedDocuments, type FastPathDeps } from '../graphql/fast-path.js';
import { SubscriptionSlots } from '../graphql/subscription-slots.js';
import { createUserSchema } from '../graphql/user-schema.js';
import { useCostLimit, useDepthLimit, usePublicErrorShape } from '../graphql/yoga-plugins.js';
import { FIXED_INPUT_LIMITS, limitDetail, type ApiLimits } from '../limits.js';
import type { DeployPolicy } from '../services/deploy-policy.js';
import type { Store } from '../store/store.js';
import type { WebHandler } from '../web/index.js';
import { AGENT_EVENTS_PATH, handleAgentEvents } from './agent-events.js';
import { AGENT_LOGS_PATH, handleAgentLogs } from './agent-logs.js';
import type { AgentUploadDeps } from './agent-upload.js';
import { authenticate } from './auth.js';
import { jsonNesting } from './json-nesting.js';
import { attachParsedBody, parseBody, useParsedBody } from './parsed-body.js';
import { takeRawBody } from './raw-body.js';
import { RequestBudget, retryAfter } from './request-budget.js';
import { preflight, withCors, type CorsPolicy } from './cors.js';
import { hostAllowed, hostNotAllowed, type HostPolicy } from './allowed-hosts.js';
import type { Metrics } from './metrics.js';
import { wholeResponse } from './whole-body.js';

export interface HandlerDeps {
  store: Store;
  limits: ApiLimits;
  metrics: Metrics;
  logger: Logger;
  /** The web UI; answers its own paths (GraphiQL's page included) and returns undefined for the rest. */
  web?: WebHandler;
  /** Which code a non-ADMIN token may deploy. */
  deployPolicy: DeployPolicy;
  /** Cross-origin browser access to /graphql. Default: same origin only. */
  cors?: CorsPolicy;
  /** Host names answered besides localhost and IP literals (allowed-hosts.ts). Default none. */
  hosts?: HostPolicy;
  /** The clock of the per-token request rate, in ms (default performance.now). */
  monotonicClock?: () => number;
  /** The per-token request rate, when shared with the web UI's sign-in; else one of its own. */
  requestBudget?: RequestBudget;
}

export type FetchHandler = (request: Request) => Promise<Response>;

type ServerContext = Omit<ApiContext, 'request'>;

export function errorResponse(e: OutpostError, headers: Record<string, string> = {}): Response {
  const body = {
    errors: [
      {
        message: e.message,
        extensions: { code: e.code, hint: e.hint, http: e.http, ...(e.data ? { data: e.data } : {}) },
      },
    ],
  };
  return wholeResponse(JSON.stringify(body), {
    status: e.http,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

export function bodyTooLarge(limit: number, name: 'maxBodyBytes' | 'maxUserBodyBytes' = 'maxBodyBytes'): OutpostError {
  return new OutpostError('BODY_TOO_LARGE', {
    detail: limitDetail(name, limit, `the body has more than ${limit} bytes`),
    data: { limit: name, value: limit },
  });
}

const MAX_BODY_NESTING = FIXED_INPUT_LIMITS.maxBodyNesting;

function bodyTooDeep(): OutpostError {
  return new OutpostError('JSON_TOO_DEEP', {
    detail: limitDetail(
      'maxBodyNesting',
      MAX_BODY_NESTING,
      `the request body nests more than ${MAX_BODY_NESTING} deep`,
    ),
    data: { limit: 'maxBodyNesting', value: MAX_BODY_NESTING },
  });
}

/** Reads the body up to `limit` bytes; undefined when it is larger. */
async function readLimited(request: Request, limit: number): Promise<ArrayBuffer | undefined> {
  if (!request.body) return new ArrayBuffer(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (err) {
      // node-server.ts errors the stream itself once the socket delivered more than the limit.
      if (err instanceof OutpostError && err.errorName === 'BODY_TOO_LARGE') return undefined;
      throw err;
    }
    const { done, value } = next;
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const all = Buffer.concat(chunks);
  return all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
}

/** yoga answers some refusals (415, 405, 406) with an empty body; give them the one error shape. */
function codedIfBare(res: Response): Response {
  if (res.status < 400 || (res.headers.get('content-type') ?? '').includes('json')) return res;
  const name = BARE_STATUS[res.status] ?? 'BAD_REQUEST';
  const allow = res.headers.get('allow');
  return errorResponse(new OutpostError(name), allow ? { allow } : {});
}

/** yoga's own default count for its parse caches. */
const YOGA_DOCUMENTS = 1024;

const JSON_TYPES = new Set(['application/json', 'application/graphql+json']);

/**
 * The agent API's raw-body endpoints, by path: the one list the router serves and the agent
 * attack sweep (test/integration/attacks/agent-sweep.test.ts) covers, so a new one is swept.
 */
export const AGENT_UPLOADS: Readonly<Record<string, (request: Request, deps: AgentUploadDeps) => Promise<Response>>> = {
  [AGENT_LOGS_PATH]: handleAgentLogs,
  [AGENT_EVENTS_PATH]: handleAgentEvents,
};

/** Paths the API answers before the web UI is asked. */
const NON_WEB_PATHS: ReadonlySet<string> = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/agent/graphql',
  ...Object.keys(AGENT_UPLOADS),
]);

const BARE_STATUS: Record<number, ErrorName> = {
  415: 'UNSUPPORTED_MEDIA_TYPE',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
};

export function createControlPlaneHandler(deps: HandlerDeps): FetchHandler {
  const { store, limits, metrics, logger, deployPolicy } = deps;
  const subscriptions = new SubscriptionSlots(limits.maxSubscriptionsPerToken);
  const requestBudget = deps.requestBudget ?? new RequestBudget(limits, deps.monotonicClock);
  const cors: CorsPolicy = deps.cors ?? { allowedOrigins: [] };
  const hosts: HostPolicy = deps.hosts ?? { allowedHosts: [] };
  const maskError = createMaskError(logger, (err) => store.unavailableError(err));
  const userDocs = new ValidatedDocuments();
  const agentDocs = new ValidatedDocuments();
  const userSchema = createUserSchema();
  const agentSchema = createAgentSchema();
  // yoga's parse caches, keyed by document text: bounded by the text they hold, not only by count.
  const parseCaches = () => ({
    parserAndValidationCache: {
      documentCache: new DocumentCache<DocumentNode>(YOGA_DOCUMENTS),
      errorCache: new DocumentCache<unknown>(YOGA_DOCUMENTS),
    },
  });
  const common = {
    // CORS is ours (http/cors.ts): yoga's default echoes any Origin with credentials.
    cors: false as const,
    maskedErrors: { maskError },
    landingPage: false,
    batching: false,
    logging: false as const,
    plugins: [useDepthLimit(limits.maxQueryDepth), useCostLimit(limits), usePublicErrorShape(limits)],
  };
  const userYoga: YogaServerInstance<ServerContext, object> = createYoga<ServerContext>({
    ...common,
    ...parseCaches(),
    plugins: [...common.plugins, userDocs.plugin(), useParsedBody()],
    schema: userSchema,
    graphqlEndpoint: '/graphql',
    // GraphiQL's page is served by the web UI (web/graphiql-page.ts), behind sign-in.
    graphiql: false,
  });
  const agentYoga: YogaServerInstance<ServerContext, object> = createYoga<ServerContext>({
    ...common,
    ...parseCaches(),
    plugins: [...common.plugins, agentDocs.plugin(), useParsedBody()],
    schema: agentSchema,
    graphqlEndpoint: '/agent/graphql',
    graphiql: false,
  });
  const fast: Record<'user' | 'agent', FastPathDeps> = {
    user: { schema: userSchema, documents: userDocs, limits, maskError },
    agent: { schema: agentSchema, documents: agentDocs, limits, maskError },
  };

  async function graphql(
    request: Request,
    yoga: YogaServerInstance<ServerContext, object>,
    kind: 'user' | 'agent',
  ): Promise<Response> {
    // The user API's own, smaller limit (limits.ts maxUserBodyBytes), when it is the smaller one.
    const userLimit = kind === 'user' && limits.maxUserBodyBytes < limits.maxBodyBytes;
    const bodyLimit = userLimit ? limits.maxUserBodyBytes : limits.maxBodyBytes;
    const tooLarge = () => errorResponse(bodyTooLarge(bodyLimit, userLimit ? 'maxUserBodyBytes' : 'maxBodyBytes'));
    const declared = Number(request.headers.get('content-length') ?? NaN);
    if (declared > bodyLimit) return tooLarge();
    // Authentication needs only the headers: an unauthenticated request is answered before a
    // byte of its body is read (node-server.ts then drains or cuts the rest).
    let principal;
    try {
      principal = await authenticate(store, request, kind);
    } catch (e) {
      if (e instanceof OutpostError) {
        return errorResponse(e, e.http === 401 ? { 'www-authenticate': 'Bearer realm="outpost"' } : {});
      }
      throw e;
    }
    const userBudget = kind === 'user' ? { requestBudget } : {};
    if (kind === 'user') {
      try {
        requestBudget.take(principal.id);
      } catch (e) {
        if (e instanceof OutpostError) return errorResponse(e, retryAfter(e));
        throw e;
      }
    }
    let req = request;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      // JSON only: no uploads, so yoga's multipart and form parsers are never reached.
      const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!JSON_TYPES.has(type)) {
        return errorResponse(new OutpostError('UNSUPPORTED_MEDIA_TYPE', { detail: type || 'no content-type' }));
      }
      const raw = takeRawBody(request);
      const body = raw ? await raw(bodyLimit) : await readLimited(request, bodyLimit);
      if (!body) return tooLarge();
      // A token of any role (or kind) could otherwise hold the event loop for seconds per request.
      const nesting = jsonNesting(body instanceof ArrayBuffer ? new Uint8Array(body) : body, MAX_BODY_NESTING);
      if (nesting > MAX_BODY_NESTING) return errorResponse(bodyTooDeep());
      // Parsed once, for the fast path and for yoga alike (parsed-body.ts); yoga refuses other methods.
      const parsed = request.method === 'POST' ? parseBody(body) : undefined;
      if (parsed) {
        const context = { store, limits, metrics, principal, deployPolicy, subscriptions, request, ...userBudget };
        const answer = await fastAnswer(fast[kind], request, parsed, context);
        if (answer) return answer;
      }
      req = new Request(request.url, {
        method: request.method,
        headers: request.headers,
        // A Buffer from raw-body.ts is backed by an ArrayBuffer (allocUnsafe or concat).
        body: Buffer.isBuffer(body) ? (body as Uint8Array<ArrayBuffer>) : body,
        signal: request.signal,
      });
      if (parsed) attachParsedBody(req, parsed);
    }
    return codedIfBare(
      await yoga.fetch(req, { store, limits, metrics, principal, deployPolicy, subscriptions, ...userBudget }),
    );
  }

  /** The agent API's raw-body endpoints (agent-logs.ts, agent-events.ts); refusals take the one error shape. */
  async function agentUpload(
    request: Request,
    handle: (request: Request, deps: AgentUploadDeps) => Promise<Response>,
  ): Promise<Response> {
    try {
      return await handle(request, { store, limits, metrics });
    } catch (e) {
      const coded = e instanceof OutpostError ? e : undefined;
      if (!coded) throw e;
      return errorResponse(coded, coded.http === 401 ? { 'www-authenticate': 'Bearer realm="outpost"' } : {});
    }
  }

  /** Every answer but the web UI's own pages and assets (which set their own caching) is no-store. */
  async function route(request: Request): Promise<Response> {
    // The web UI answers after the paths it never serves: it owns GraphiQL's page (GET /graphql
    // for text/html), and returns undefined for the rest of /graphql.
    if (deps.web && !NON_WEB_PATHS.has(new URL(request.url).pathname)) {
      const web = await deps.web(request);
      if (web) return web;
    }
    return noStore(await api(request));
  }

  async function api(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === '/healthz') return Response.json({ status: 'ok' });
    if (path === '/readyz') {
      try {
        await store.ping();
        return Response.json({ status: 'ready' });
      } catch (err) {
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'readiness check failed');
        // The code and hint, never the detail (this path needs no token; the detail names the host).
        const down = store.unavailableError(err);
        return Response.json(
          { status: 'unavailable', ...(down ? { code: down.code, hint: down.hint } : {}) },
          { status: 503 },
        );
      }
    }
    if (path === '/metrics') {
      return new Response(await metrics.render(store), { headers: { 'content-type': 'text/plain; version=0.0.4' } });
    }
    if (path === '/agent/graphql') return graphql(request, agentYoga, 'agent');
    const upload = Object.hasOwn(AGENT_UPLOADS, path) ? AGENT_UPLOADS[path] : undefined;
    if (upload) return agentUpload(request, upload);
    if (path === '/graphql') {
      if (request.method === 'OPTIONS') return preflight(request, cors);
      return withCors(request, await graphql(request, userYoga, 'user'), cors);
    }
    return errorResponse(new OutpostError('NO_ROUTE', { detail: path }));
  }

  return async (request) => {
    const path = new URL(request.url).pathname;
    const routeLabel = path === '/graphql' || NON_WEB_PATHS.has(path) ? path : 'other';
    // Before any route, token-free ones included: a DNS-rebound page must read nothing.
    const host = request.headers.get('host');
    if (!hostAllowed(host, hosts)) {
      metrics.inc('outpost_http_requests_total', 1, { route: routeLabel, status: '403' });
      return noStore(errorResponse(hostNotAllowed(host ?? '')));
    }
    try {
      const res = await route(request);
      metrics.inc('outpost_http_requests_total', 1, { route: routeLabel, status: String(res.status) });
      return res;
    } catch (err) {
      // The client went away (an agent stopping mid long-poll does, on every clean shutdown):
      // yoga rejects with the abort reason. Nobody is left to answer; it is not a server error.
      if (request.signal.aborted) {
        logger.debug({ path }, 'client closed the request');
        metrics.inc('outpost_http_requests_total', 1, { route: routeLabel, status: '499' });
        return new Response(null, { status: 499 });
      }
      // A store that cannot be reached answers 503 with its code; the outage is logged by the
      // daemon and /readyz, not once per request.
      const down = store.unavailableError(err);
      const coded =
        err instanceof OutpostError
          ? err
          : err instanceof Error && err.cause instanceof OutpostError
            ? err.cause
            : down;
      if (!down)
        logger.error(
          { err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err), path },
          'request failed',
        );
      metrics.inc('outpost_http_requests_total', 1, { route: routeLabel, status: String(coded?.http ?? 500) });
      return noStore(errorResponse(coded ?? new OutpostError('INTERNAL')));
    }
  };
}

/**
 * Marks an API answer `Cache-Control: no-store` (yoga's `no-cache` on a subscription stream
 * included, which still lets a cache store it): API answers carry user data (runs, configs, logs, a token shown once by createToken), and
 * neither a shared proxy nor the browser's disk cache may keep them.
 */
function noStore(res: Response): Response {
  res.headers.set('cache-control', 'no-store');
  return res;
}
