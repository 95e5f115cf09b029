// Bearer-token authentication per API: 401 for a missing, malformed, unknown or revoked
// token; 403 for a live token of the wrong kind. The token itself is never logged.
import { OutpostError } from '../../shared/errors.js';
import { sessionPrincipal } from '../store/sessions.js';
import type { Store } from '../store/store.js';
import { verifyToken, type TokenInfo, type TokenKind } from '../store/tokens.js';
import { cookieAuth } from '../web/session.js';

export function bearerToken(request: Request): string | undefined {
  const h = request.headers.get('authorization');
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m?.[1];
}

/**
 * The token's owner, or a coded error. `/graphql` also accepts the web UI's session cookie
 * (acting as the token the session was opened with), but only when the CSRF check passes.
 */
export async function authenticate(store: Store, request: Request, want: TokenKind): Promise<TokenInfo> {
  const token = bearerToken(request);
  if (!token && want === 'user') {
    const c = cookieAuth(request);
    if (c.sessionId && !c.csrfOk) throw new OutpostError('CSRF');
    if (c.sessionId) {
      const info = await sessionPrincipal(store, c.sessionId);
      if (!info) throw new OutpostError('UNAUTHENTICATED', { detail: 'the session has ended; sign in again' });
      return info;
    }
  }
  if (!token) throw new OutpostError('UNAUTHENTICATED', { detail: 'no bearer token' });
  const info = await verifyToken(store, token);
  if (!info) throw new OutpostError('UNAUTHENTICATED', { detail: 'token is unknown or revoked' });
  if (info.kind !== want) {
    throw new OutpostError('FORBIDDEN', { detail: `a ${info.kind} token cannot call the ${want} API` });
  }
  return info;
}
