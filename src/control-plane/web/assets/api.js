// The one GraphQL client of the UI: POST /graphql with the session cookie and the CSRF
// header, and SSE subscriptions (graphql-yoga's GET + text/event-stream) for live events.
/* global window, document, fetch, EventSource, URLSearchParams */

export class GqlError extends Error {
  constructor(message, ext = {}) {
    super(message);
    this.code = ext.code;
    this.hint = ext.hint;
    this.http = ext.http;
  }
}

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)outpost_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

function toSignIn() {
  const next = window.location.pathname + window.location.search;
  window.location.assign(`/signin?next=${encodeURIComponent(next)}`);
}

const isAuthError = (e) => e?.extensions?.code === 'OUTPOST_ERR_UNAUTHENTICATED' || e?.extensions?.http === 401;

/** Runs a query or mutation; throws GqlError with the server's code and hint. */
export async function gql(query, variables = {}) {
  let res;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-outpost-csrf': csrfToken() },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    throw new GqlError(`The control plane is not reachable (${err.message})`, { code: 'NETWORK' });
  }
  if (res.status === 401) {
    toSignIn();
    throw new GqlError('Signed out', { code: 'OUTPOST_ERR_UNAUTHENTICATED' });
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new GqlError(`Unexpected answer from /graphql (HTTP ${res.status})`, { http: res.status });
  }
  const errors = body.errors ?? [];
  if (errors.some(isAuthError)) {
    toSignIn();
    throw new GqlError('Signed out', { code: 'OUTPOST_ERR_UNAUTHENTICATED' });
  }
  if (errors.length) {
    const e = errors[0];
    throw new GqlError(e.message, e.extensions ?? {});
  }
  return body.data;
}

/**
 * Subscribes over SSE. Returns a close function. `onData(data)` gets each result's data;
 * `onError()` is called once if the stream fails (callers fall back to polling).
 */
export function subscribe(query, variables, onData, onError) {
  const params = new URLSearchParams({ query, variables: JSON.stringify(variables) });
  const es = new EventSource(`/graphql?${params}`, { withCredentials: true });
  let closed = false;
  const handle = (ev) => {
    if (!ev.data) return;
    try {
      const msg = JSON.parse(ev.data);
      if (msg.errors?.length) {
        close();
        onError?.(new GqlError(msg.errors[0].message, msg.errors[0].extensions ?? {}));
        return;
      }
      if (msg.data) onData(msg.data);
    } catch {
      /* keep-alive or partial frame */
    }
  };
  const close = () => {
    if (closed) return;
    closed = true;
    es.close();
  };
  es.addEventListener('next', handle);
  es.addEventListener('message', handle);
  es.addEventListener('complete', close);
  es.onerror = () => {
    if (closed) return;
    close();
    onError?.(new GqlError('Live updates disconnected', { code: 'SSE' }));
  };
  return close;
}

export async function signOut() {
  await fetch('/signout', { method: 'POST', credentials: 'same-origin', headers: { 'x-outpost-csrf': csrfToken() } });
  window.location.assign('/signin');
}
