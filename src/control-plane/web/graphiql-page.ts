// GraphiQL at GET /graphql, for signed-in browsers only. The bundle (no CDN) is one inline
// script; it runs under the UI's CSP plus a per-response nonce, inline styles and blob: workers,
// which Monaco needs. Its queries ride the session cookie with the CSRF header.
//
// The bundle is loaded on the first page request, not at start, and let go once rendered: as
// an ES module import it held ~32 MB of an idle control plane's heap (its source text and the
// string it exports), for a page most sessions never open (bench/footprint-dev.ts).
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import type { renderGraphiQL as RenderGraphiQL } from '@graphql-yoga/render-graphiql';
import { securityHeaders } from './security-headers.js';

/** The package's CommonJS entry: unlike an ES module, it can be dropped from the cache. */
export const GRAPHIQL_MODULE = createRequire(import.meta.url).resolve('@graphql-yoga/render-graphiql');

const CSRF_SLOT = '__OUTPOST_CSRF_SLOT__';

interface Parts {
  head: Buffer;
  middle: Buffer;
  tail: Buffer;
}

/**
 * The page's UTF-8 bytes split around its two per-response values. Rendering and encoding the
 * ~9 MB bundle is done once; each response is then one buffer concatenation.
 */
let parts: Parts | undefined;

/** Renders the page with the package loaded for the call only, then drops its modules. */
function renderOnce(opts: Parameters<typeof RenderGraphiQL>[0]): string {
  const dir = dirname(GRAPHIQL_MODULE);
  // A require of its own: the module it is made for lists what it loads as its children.
  const require = createRequire(import.meta.url);
  try {
    const { renderGraphiQL } = require(GRAPHIQL_MODULE) as { renderGraphiQL: typeof RenderGraphiQL };
    return renderGraphiQL(opts);
  } finally {
    for (const id of Object.keys(require.cache)) if (id.startsWith(dir + sep)) delete require.cache[id];
  }
}

function pageParts(): Parts {
  if (parts) return parts;
  const page = renderOnce({
    title: 'Outpost GraphQL',
    endpoint: '/graphql',
    credentials: 'same-origin',
    headers: JSON.stringify({ 'x-outpost-csrf': CSRF_SLOT }),
  });
  // The template's own <script> opens right after the root div; the bundle text inside may
  // contain "<script>" strings of its own, so only that first tag is touched. The options
  // (with the CSRF slot) are printed after the bundle.
  const anchor = page.indexOf('<div id="root"></div>');
  const at = page.indexOf('<script>', anchor);
  const slot = page.lastIndexOf(CSRF_SLOT);
  if (anchor < 0 || at < 0 || slot < at) throw new Error('GraphiQL page layout changed: cannot place nonce and CSRF');
  parts = {
    head: Buffer.from(page.slice(0, at)),
    middle: Buffer.from(page.slice(at + '<script>'.length, slot)),
    tail: Buffer.from(page.slice(slot + CSRF_SLOT.length)),
  };
  return parts;
}

/** The page, with a fresh nonce on its one inline script and the headers to send with it. */
export function graphiqlResponse(csrf: string | undefined): Response {
  const nonce = randomBytes(18).toString('base64url');
  // The CSRF cookie is base64url; anything else is not ours and is left out of the page.
  const safeCsrf = csrf && /^[A-Za-z0-9_-]{1,128}$/.test(csrf) ? csrf : '';
  const p = pageParts();
  const page = Buffer.concat([
    p.head,
    Buffer.from(`<script nonce="${nonce}">`),
    p.middle,
    Buffer.from(safeCsrf),
    p.tail,
  ]);
  const headers = securityHeaders({ scriptNonce: nonce, inlineStyles: true, blobWorkers: true });
  headers.set('content-type', 'text/html; charset=utf-8');
  headers.set('cache-control', 'no-store');
  return new Response(page, { status: 200, headers });
}
