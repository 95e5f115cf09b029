// Where to go after sign-in: only a path on this site. Browsers strip tabs and newlines from
// URLs and treat `\` as `/`, so `/\t/evil.example` becomes `//evil.example` (another site);
// anything with a control character, a backslash, a scheme or a leading `//` is refused.

export const DEFAULT_NEXT = '/runs';
const MAX_NEXT = 2048;
const BASE = 'http://outpost.invalid';

/** A same-site path (`/runs?x=1`), or {@link DEFAULT_NEXT}. Never throws. */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || next.length === 0 || next.length > MAX_NEXT) return DEFAULT_NEXT;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we refuse
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return DEFAULT_NEXT;
  if (!next.startsWith('/') || next.startsWith('//')) return DEFAULT_NEXT;
  let url: URL;
  try {
    url = new URL(next, BASE);
  } catch {
    return DEFAULT_NEXT;
  }
  if (url.origin !== BASE) return DEFAULT_NEXT;
  const out = url.pathname + url.search + url.hash;
  // Normalization (dot segments, percent-encoding) must not produce a scheme-relative path either.
  return out.startsWith('//') ? DEFAULT_NEXT : out;
}
