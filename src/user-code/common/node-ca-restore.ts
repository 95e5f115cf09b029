// First thing an Outpost user-code process does (imported first by src/cli/user-code-main.ts and
// src/cli/main.ts): when the agent started it with its certificate store instead of
// NODE_EXTRA_CA_CERTS (src/agent/launchers/node-ca.ts), the process's root store is created now,
// while SSL_CERT_FILE and SSL_CERT_DIR still name that store (OpenSSL reads them only then, and
// each file of the directory only when a chain needs it), and the environment and execArgv go
// back to what the user set. User code, and whatever it starts, sees and inherits those.
import { CA_VARIABLES, NODE_CA_ENV, USE_OPENSSL_CA } from '../../shared/node-ca-env.js';

const saved = process.env[NODE_CA_ENV];
if (saved !== undefined) {
  delete process.env[NODE_CA_ENV];
  // getBuiltinModule: node:tls loads only in processes the agent started this way.
  process.getBuiltinModule('node:tls').createSecureContext();
  const values = JSON.parse(saved) as Record<string, string | null>;
  for (const name of CA_VARIABLES) {
    const v = values[name];
    if (typeof v === 'string') process.env[name] = v;
    else delete process.env[name];
  }
  const at = process.execArgv.indexOf(USE_OPENSSL_CA);
  if (at >= 0) process.execArgv.splice(at, 1);
}
