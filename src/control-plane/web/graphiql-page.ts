// GraphiQL at GET /graphql, for signed-in browsers only. The bundle (no CDN) is one inline
// script; it runs under the UI's CSP plus a per-response nonce, inline styles and blob: workers,
// which Monaco needs. Its queries ride the session cookie with the CSRF header.
import { randomBytes } from 'node:crypto';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { securityHeaders } from './security-headers.js';

/** The page, with the nonce on its one inline script and the headers to send with it. */
export function graphiqlResponse(csrf: string | undefined): Response {
  const nonce = randomBytes(18).toString('base64url');
  let page = renderGraphiQL({
    title: 'Outpost GraphQL',
    endpoint: '/graphql',
    credentials: 'same-origin',
    ...(csrf ? { headers: JSON.stringify({ 'x-outpost-csrf': csrf }) } : {}),
  });
  // The template's own <script> opens right after the root div; the bundle text inside may
  // contain "<script>" strings of its own, so only that first tag is touched.
  const anchor = page.indexOf('<div id="root"></div>');
  const at = page.indexOf('<script>', anchor);
  if (anchor < 0 || at < 0) throw new Error('GraphiQL page layout changed: no inline script to sign');
  page = `${page.slice(0, at)}<script nonce="${nonce}">${page.slice(at + '<script>'.length)}`;
  const headers = securityHeaders({ scriptNonce: nonce, inlineStyles: true, blobWorkers: true });
  headers.set('content-type', 'text/html; charset=utf-8');
  headers.set('cache-control', 'no-store');
  return new Response(page, { status: 200, headers });
}
