// What readers of a location's spec see of its env. A Dagster location reads its secrets with
// EnvVar("WAREHOUSE_PASSWORD"), and the location's env is where Outpost users set them (the agent
// gives user code none of its own credential-named variables), so the user API answers such a
// value as HIDDEN_ENV_VALUE: it reaches the code server and the runs (the agent API serves the
// spec as deployed), never a reader of the location, whatever its role. Names follow the one rule
// of src/shared/child-env.ts.
import { isCredentialName } from '../../shared/child-env.js';

export const HIDDEN_ENV_VALUE = '(hidden)';

/** `spec` with each credential-named env value replaced by HIDDEN_ENV_VALUE (a copy; others as they are). */
export function specForReaders(spec: unknown): unknown {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return spec;
  const env = (spec as { env?: unknown }).env;
  if (!env || typeof env !== 'object' || Array.isArray(env)) return spec;
  const shown = Object.fromEntries(
    Object.entries(env as Record<string, unknown>).map(([k, v]) => [k, isCredentialName(k) ? HIDDEN_ENV_VALUE : v]),
  );
  return { ...spec, env: shown };
}
