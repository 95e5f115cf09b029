// The one id scheme: a kind prefix plus a time-ordered random suffix (sortable, URL-safe).
import { randomBytes } from 'node:crypto';

export type IdKind = 'run' | 'wi' | 'agent' | 'tok' | 'loc' | 'tick' | 'sb' | 'aud';

let lastMs = 0;
let counter = 0;

/** `run_01j9...`: 10 chars of time (base32 ms) + 4 of a per-ms counter + 10 random chars. */
export function newId(kind: IdKind, now: number = Date.now()): string {
  if (now === lastMs) counter++;
  else {
    lastMs = now;
    counter = 0;
  }
  const time = now.toString(32).padStart(10, '0');
  const seq = counter.toString(32).padStart(4, '0');
  const rand = randomBytes(8)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '0')
    .slice(0, 10);
  return `${kind}_${time}${seq}${rand}`;
}
