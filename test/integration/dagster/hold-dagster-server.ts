// Child process for the heartbeat test: an agent-side manager that starts one Dagster code server
// (heartbeat timeout from argv[2] seconds, pid records under argv[3]), prints its pid, and holds it
// until it is killed.
import { RecordingControlPlane, dagsterManager, EXAMPLE_DIR } from './dagster-manager-harness.js';

const cp = new RecordingControlPlane();
cp.set('held', 1, { pythonFile: 'definitions.py', workingDirectory: EXAMPLE_DIR });
const manager = dagsterManager(cp, {
  dataDir: process.argv[3],
  dagster: { heartbeatTimeoutSeconds: Number(process.argv[2]) },
});
await manager.refresh();
const settled = await manager.settled('held', 1, 120_000);
const server = await manager.dagsterServer('held', 1_000);
console.log(JSON.stringify({ status: settled.status, pid: server.child.pid }));
setInterval(() => undefined, 60_000);
