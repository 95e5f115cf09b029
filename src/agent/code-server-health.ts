// Health: every serving code server is checked on an interval (Outpost's SDK servers with Ping,
// Dagster servers with ListRepositories, as Dagster+ does); one that does not answer is as dead
// as one that exited, so it is killed and its exit handler (the manager) restarts it.
import type { Logger } from '../shared/logger.js';
import type { PingResponse } from '../gen/outpost/codeserver/v1/code_server.js';
import { unary } from './code-server-client.js';
import { isDagster, stopServed, type Served } from './code-server-slot.js';

/** ListRepositories of a big repository takes longer than a Ping. */
const DAGSTER_HEALTH_TIMEOUT_MS = 10_000;
const PING_TIMEOUT_MS = 3_000;

/** A location's serving server, or undefined when none is settled (starting, or none yet). */
export interface HealthTarget {
  location: string;
  server: Served | undefined;
}

/** Checks each target in turn; kills the ones that fail. */
export async function checkCodeServers(targets: Iterable<HealthTarget>, logger: Logger): Promise<void> {
  for (const { location, server } of targets) {
    if (!server || server.exited) continue;
    try {
      if (isDagster(server)) await server.checkHealth(DAGSTER_HEALTH_TIMEOUT_MS);
      else await unary<{ echo: string }, PingResponse>(server.client, 'ping', { echo: 'health' }, PING_TIMEOUT_MS);
    } catch (err) {
      logger.warn({ location, err: (err as Error).message }, 'code server failed its health check; killing');
      void stopServed(server);
    }
  }
}
