// pg, loaded on first use: a control plane on SQLite never needs it, and as a static import it
// kept ~2.5 MB of heap (~7 MB of RSS) in every idle `npm start` control plane
// (bench/footprint-dev.ts). pg is CommonJS, so a synchronous require keeps opening a store
// synchronous.
import { createRequire } from 'node:module';
import type pg from 'pg';

let loaded: typeof pg | undefined;

/** The pg module, configured for the store on its first load. */
export function pgModule(): typeof pg {
  if (loaded) return loaded;
  const mod = createRequire(import.meta.url)('pg') as typeof pg;
  // Return BIGINT/COUNT as numbers (our values fit in 2^53).
  mod.types.setTypeParser(20, (v) => Number(v));
  return (loaded = mod);
}
