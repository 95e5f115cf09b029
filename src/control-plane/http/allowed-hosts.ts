// DNS rebinding: a page on attacker.example whose name the attacker's DNS later resolves to
// 127.0.0.1 reaches this server as its own origin, with `Host: attacker.example:3000`; the
// browser then lets it read the answers (the sign-in page, /metrics, /readyz, assets) and its
// same-origin writes pass the Origin check. So a request is answered only when its Host names
// this server: localhost, an IP literal (a name the attacker's DNS cannot re-point), or a name
// the operator lists (--allowed-hosts / OUTPOST_ALLOWED_HOSTS), the ports aside.
import { isIP } from 'node:net';
import { OutpostError } from '../../shared/errors.js';

export interface HostPolicy {
  /**
   * Host names (no port, any case) this server answers for, besides localhost and IP literals;
   * `*` answers every name (behind a proxy that checks Host itself). Default none.
   */
  allowedHosts: readonly string[];
}

/** The name of a Host header without its port: `[::1]:3000` -> `[::1]`, `A.example:80` -> `a.example`. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

function ipLiteral(name: string): boolean {
  if (name.startsWith('[') && name.endsWith(']')) return isIP(name.slice(1, -1)) === 6;
  return isIP(name) === 4;
}

/**
 * Whether a request with this Host header may be answered. No Host at all (HTTP/1.0, a test's
 * Request built without one) is no browser's request: browsers always send it.
 */
export function hostAllowed(header: string | null, policy: HostPolicy): boolean {
  if (header === null) return true;
  const name = hostName(header);
  if (name === 'localhost' || ipLiteral(name)) return true;
  return policy.allowedHosts.some((h) => h === '*' || h.toLowerCase() === name);
}

/** The refusal, naming the host (cut: it is the client's text) and what to set. */
export function hostNotAllowed(header: string): OutpostError {
  const name = hostName(header).slice(0, 253);
  return new OutpostError('HOST_NOT_ALLOWED', {
    detail: `Host ${JSON.stringify(name)}; to serve it, add it to --allowed-hosts or OUTPOST_ALLOWED_HOSTS`,
    data: { host: name },
  });
}
