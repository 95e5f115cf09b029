// The child the agent builds its certificate store in (node-ca.ts, buildInChild): its argv are
// the data dir and the NODE_EXTRA_CA_CERTS file; it prints the store as JSON, `null` when the
// start cannot stay exact, and exits 1 when building failed.
import { buildStore } from './node-ca.js';

const [, , dataDir, extraCerts] = process.argv;
try {
  process.stdout.write(JSON.stringify(dataDir && extraCerts ? (buildStore(dataDir, extraCerts) ?? null) : null));
} catch {
  process.exitCode = 1;
}
