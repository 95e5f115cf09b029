// The agent's stable identity, persisted in its data dir: a restarted agent keeps its id
// and therefore its host-local task queue, so activity retries pinned to this host (the
// run worker's process and spool live here) reach it again.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = 'agent-id';

/** The host-local Temporal task queue of an agent. */
export const hostTaskQueue = (agentId: string): string => `outpost-host-${agentId}`;

export function readAgentId(dataDir: string): string | undefined {
  try {
    const id = readFileSync(join(dataDir, FILE), 'utf8').trim();
    return id || undefined;
  } catch {
    return undefined;
  }
}

/** Atomically records the id the control plane assigned (write + rename). */
export function writeAgentId(dataDir: string, agentId: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const tmp = join(dataDir, `${FILE}.tmp`);
  writeFileSync(tmp, `${agentId}\n`, { mode: 0o600 });
  renameSync(tmp, join(dataDir, FILE));
}
