// What the agent API's raw-body endpoints (POST /agent/logs, POST /agent/events) share with
// /agent/graphql: an agent token checked on the headers before a byte of the body is read, POST
// only, one content type, query parameters named in the refusal, and a body read up to a limit
// that names itself. Every refusal is an OutpostError; handler.ts gives it the one error shape.
import { OutpostError } from '../../shared/errors.js';
import type { ApiLimits } from '../limits.js';
import type { Store } from '../store/store.js';
import type { TokenInfo } from '../store/tokens.js';
import { authenticate } from './auth.js';
import { takeRawBody, type BodyAlloc } from './raw-body.js';
import type { Metrics } from './metrics.js';

export interface AgentUploadDeps {
  store: Store;
  limits: ApiLimits;
  metrics: Metrics;
}

export interface AgentUpload {
  principal: TokenInfo;
  /** A named query parameter; INVALID_ARGUMENT when it is missing or empty. */
  param: (name: string) => string;
}

/** Authenticates (agent token), then checks the method and the content type. */
export async function openAgentUpload(
  request: Request,
  store: Store,
  path: string,
  contentType: string,
): Promise<AgentUpload> {
  // Authentication needs only the headers: nothing is read from an unauthenticated body.
  const principal = await authenticate(store, request, 'agent');
  if (request.method !== 'POST') {
    throw new OutpostError('METHOD_NOT_ALLOWED', { detail: `${request.method} ${path}: use POST` });
  }
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== contentType) {
    throw new OutpostError('UNSUPPORTED_MEDIA_TYPE', {
      detail: `${path} takes ${contentType}, not ${type || 'no content-type'}`,
    });
  }
  const query = new URL(request.url).searchParams;
  return {
    principal,
    param: (name) => {
      const v = query.get(name);
      if (!v)
        throw new OutpostError('INVALID_ARGUMENT', { detail: `POST ${path} needs the query parameter \`${name}\`` });
      return v;
    },
  };
}

/**
 * The body, refused past `limit` bytes, on the declared length or while reading (never holding
 * more than the limit); `tooLarge` names the limit. node-server.ts's own maxBodyBytes refusal
 * (an error from the stream or its raw reader) passes through. Off a socket the body is read
 * raw (raw-body.ts), into `alloc`'s buffer when given; otherwise from the Request's stream.
 */
export async function readBodyLimited(
  request: Request,
  limit: number,
  tooLarge: (got: string) => OutpostError,
  alloc?: BodyAlloc,
): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) throw tooLarge(String(declared));
  const raw = takeRawBody(request);
  if (raw) {
    const body = await raw(limit, alloc);
    if (!body) throw tooLarge(`more than ${limit}`);
    return body;
  }
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(`more than ${limit}`);
    }
    parts.push(value);
  }
  return Buffer.concat(parts, size);
}
