// Registration: the agent's first call to the control plane, retried until it lands (the control
// plane or its database may be away), with the id kept in the data dir across restarts.
import { hostname } from 'node:os';
import type { Logger } from '../shared/logger.js';
import { newId } from '../shared/ids.js';
import { backoffDelay, sleep } from '../shared/backoff.js';
import { errorLogFields, isOutpostError } from '../shared/errors.js';
import { hostTaskQueue, readAgentId, writeAgentId } from './agent-identity.js';
import type { AgentConfig } from './config.js';
import type { ControlPlaneClient } from './control-plane-client.js';

export const AGENT_VERSION = '0.1.0';

/**
 * Delay before registration attempt `attempt + 1`: from 250-500 ms up to 1-2 s. A control plane
 * that is down or answers 503 (its database away) is cheap to ask, and an agent asked every 7.5-15 s
 * (the cap was 15 s) became ready up to 15 s after the outage ended, plus its own start.
 */
export const registerRetryDelay = (attempt: number, random?: () => number): number =>
  backoffDelay(attempt, { initialMs: 500, maxMs: 2_000, ...(random ? { random } : {}) });

/** Registers (retrying while the control plane is down, not when its id is another token's) and persists the id. */
export async function register(
  cp: ControlPlaneClient,
  config: Pick<AgentConfig, 'dataDir' | 'name' | 'taskQueue'>,
  logger: Logger,
  signal: AbortSignal,
): Promise<{ agentId: string; heartbeatIntervalMs: number }> {
  let agentId = readAgentId(config.dataDir);
  if (!agentId) {
    agentId = newId('agent');
    writeAgentId(config.dataDir, agentId);
  }
  // ~41 h of retries at the 2 s cap (as long as the 10,000 attempts at the former 15 s cap).
  for (let attempt = 0; attempt < 75_000; attempt++) {
    try {
      const reg = await cp.registerAgent({
        agentId,
        name: config.name ?? hostname(),
        hostname: hostname(),
        version: AGENT_VERSION,
        taskQueue: hostTaskQueue(agentId),
        metadata: { pid: process.pid, sharedTaskQueue: config.taskQueue },
      });
      if (reg.agentId !== agentId) {
        // The control plane assigned another id: adopt it (and its queue) and register again.
        agentId = reg.agentId;
        writeAgentId(config.dataDir, agentId);
        continue;
      }
      return reg;
    } catch (err) {
      // Another token owns this id: no retry changes that (the error says what the operator does).
      if (signal.aborted || isOutpostError(err, 'AGENT_ID_TAKEN')) throw err;
      const delay = registerRetryDelay(attempt);
      logger.warn({ ...errorLogFields(err), retryInMs: delay }, 'registerAgent failed; retrying');
      await sleep(delay, signal);
    }
  }
  throw new Error('registerAgent: gave up');
}
