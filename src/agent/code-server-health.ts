// Health: every serving code server is pinged on an interval; one that does not answer is as
// dead as one that exited, so it is killed and its exit handler (the manager) restarts it.
import type { Logger } from '../shared/logger.js';
import type { PingResponse } from '../gen/outpost/codeserver/v1/code_server.js';
import { unary } from './code-server-client.js';
import { killServer, type ServerProcess } from './code-server-spawn.js';

/** A location's serving server, or undefined when none is settled (starting, or none yet). */
export interface HealthTarget {
  location: string;
  server: ServerProcess | undefined;
}

/** Pings each target in turn (3 s each); kills the ones that fail. */
export async function checkCodeServers(targets: Iterable<HealthTarget>, logger: Logger): Promise<void> {
  for (const { location, server } of targets) {
    if (!server || server.exited) continue;
    try {
      await unary<{ echo: string }, PingResponse>(server.client, 'ping', { echo: 'health' }, 3_000);
    } catch (err) {
      logger.warn({ location, err: (err as Error).message }, 'code server failed Ping; killing');
      void killServer(server);
    }
  }
}
