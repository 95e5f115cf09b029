// What the agent and its user-code processes agree on when the agent starts one with its
// certificate store instead of NODE_EXTRA_CA_CERTS (src/agent/launchers/node-ca.ts,
// src/user-code/common/node-ca-restore.ts). Kept apart so the entry loads nothing else.

/** Carries the user's values of CA_VARIABLES to the entry, which restores them. */
export const NODE_CA_ENV = 'OUTPOST_NODE_CA';
/** The flag the agent adds; the entry takes it out of process.execArgv. */
export const USE_OPENSSL_CA = '--use-openssl-ca';
/** The variables the child starts with changed; the entry puts the user's values back. */
export const CA_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR'] as const;
