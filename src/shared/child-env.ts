// The one rule for what environment user code (code servers, run workers, warm standbys) gets.
// The agent applies it before exec, so /proc/<pid>/environ of user code never held a
// credential. From the agent's environment: no variable whose name looks like a credential, no
// OUTPOST_* setting except the few user code reads, and no variable whose value holds a secret
// the agent knows (its token), whatever its name. The location's own `env` is added back (the
// deployer chose it), minus Outpost credential names and the agent's secrets.

/** Names that hold credentials by convention (GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, PGPASSWORD…). */
const CREDENTIAL_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY|AUTH/i;
/** Connection strings carry passwords; TLS settings name key files. */
const CONNECTION_NAME = /(^|_)DATABASE_URL$|(^|_)(PG|MYSQL|REDIS|MONGO)[A-Z_]*URL$|^OUTPOST_.*TLS/i;
/** The agent's own OUTPOST_* settings user code may see (what the code server and run worker read). */
const OUTPOST_PASS = /^OUTPOST_(RUN_ID|LOG_LEVEL|FILE_SENSOR_DIR|CODE_SERVER_[A-Z_]+|TS_CACHE_DIR|TS_LOADER)$/i;

/** True for a variable that must never reach user code, whoever set it. */
export function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAME.test(name) || CONNECTION_NAME.test(name);
}

/** True for a variable of the agent's own environment that user code does not get. */
function isAgentOnly(name: string): boolean {
  return isCredentialName(name) || (/^OUTPOST_/i.test(name) && !OUTPOST_PASS.test(name));
}

export interface ChildEnvOptions {
  /** Secrets the agent holds (its token): a variable whose value contains one is dropped. */
  secrets?: readonly string[];
}

/**
 * Environment for a child that runs user code: `base` (the agent's own environment) without
 * credentials, plus `extra` (the location's env, OUTPOST_RUN_ID). Returns a new object.
 */
export function credentialFreeEnv(
  base: NodeJS.ProcessEnv,
  extra: Record<string, string> = {},
  opts: ChildEnvOptions = {},
): NodeJS.ProcessEnv {
  const secrets = (opts.secrets ?? []).filter((s) => s.length >= 8);
  const holdsSecret = (v: string | undefined): boolean => v !== undefined && secrets.some((s) => v.includes(s));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) {
    if (isAgentOnly(k) || holdsSecret(v)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (isCredentialName(k) && /^OUTPOST_/i.test(k)) continue;
    if (holdsSecret(v)) continue;
    env[k] = v;
  }
  return env;
}
