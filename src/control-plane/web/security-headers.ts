// Response headers every page of the control plane carries: a strict CSP, no framing, no
// sniffing, same-origin referrers. GraphiQL gets the same set with the two relaxations its
// bundle needs (see graphiql-page.ts).

const BASE_POLICY = {
  'default-src': "'self'",
  'script-src': "'self'",
  'style-src': "'self'",
  'img-src': "'self' data:",
  'connect-src': "'self'",
  'frame-ancestors': "'none'",
  'base-uri': "'none'",
  'form-action': "'self'",
  'object-src': "'none'",
};

export interface CspRelaxations {
  /** Allows the one inline script carrying this nonce. */
  scriptNonce?: string;
  /** Allows inline styles (Monaco, inside GraphiQL, injects them at run time). */
  inlineStyles?: boolean;
  /** Allows workers from blob: URLs (GraphiQL's editor workers). */
  blobWorkers?: boolean;
}

export function contentSecurityPolicy(r: CspRelaxations = {}): string {
  const p: Record<string, string> = { ...BASE_POLICY };
  if (r.scriptNonce) p['script-src'] += ` 'nonce-${r.scriptNonce}'`;
  if (r.inlineStyles) p['style-src'] += " 'unsafe-inline'";
  if (r.blobWorkers) p['worker-src'] = "'self' blob:";
  return Object.entries(p)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ');
}

export function securityHeaders(r?: CspRelaxations): Headers {
  return new Headers({
    'content-security-policy': contentSecurityPolicy(r),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // Keeps paths (run ids, filters) out of the Referer sent to other sites such as the Temporal
    // UI. Not `no-referrer`: that makes browsers send `Origin: null`, which the CSRF check refuses.
    'referrer-policy': 'same-origin',
  });
}
