// Cross-origin access to /graphql: none unless the operator lists origins. A listed origin gets
// its own name back (never an echo of whatever was sent) and never `Allow-Credentials`, so a
// browser on another site can use a bearer token it holds but never the user's session cookie.

export interface CorsPolicy {
  /** Exact origins (`https://ops.example.com`) allowed to call /graphql from a browser. Default none. */
  allowedOrigins: readonly string[];
}

const ALLOWED_HEADERS = 'authorization, content-type, accept';
const ALLOWED_METHODS = 'GET, POST, OPTIONS';

/** The Origin header when the policy lists it exactly, else undefined. */
function allowed(request: Request, policy: CorsPolicy): string | undefined {
  const origin = request.headers.get('origin');
  return origin !== null && policy.allowedOrigins.includes(origin) ? origin : undefined;
}

/** Adds CORS headers to a response for a listed origin; any other response is left as it is. */
export function withCors(request: Request, response: Response, policy: CorsPolicy): Response {
  const origin = allowed(request, policy);
  response.headers.append('vary', 'Origin');
  if (origin) response.headers.set('access-control-allow-origin', origin);
  return response;
}

/** The answer to a preflight: 204, with permission only for a listed origin. */
export function preflight(request: Request, policy: CorsPolicy): Response {
  const headers = new Headers({ vary: 'Origin', 'content-length': '0' });
  const origin = allowed(request, policy);
  if (origin) {
    headers.set('access-control-allow-origin', origin);
    headers.set('access-control-allow-methods', ALLOWED_METHODS);
    headers.set('access-control-allow-headers', ALLOWED_HEADERS);
    headers.set('access-control-max-age', '600');
  }
  return new Response(null, { status: 204, headers });
}
