// Agents: registration, heartbeats (code-server statuses, running runs, errors), health.
import { OutpostError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import type { AgentsTable } from './schema.js';
import type { Store } from './store.js';

export interface CodeServerStatus {
  location: string;
  status: 'LOADING' | 'LOADED' | 'ERROR';
  error?: string | null;
}

export interface AgentView {
  id: string;
  name: string;
  hostname: string;
  version: string;
  taskQueue: string;
  metadata: Record<string, unknown>;
  registeredAt: number;
  lastHeartbeatAt: number;
  healthy: boolean;
  codeServers: CodeServerStatus[];
  runningRunIds: string[];
  errors: string[];
}

export interface RegisterAgentInput {
  agentId?: string | null;
  name: string;
  hostname: string;
  version: string;
  taskQueue: string;
  metadata?: Record<string, unknown> | null;
}

/** Registers (or re-registers, keeping its id) an agent. */
export async function registerAgent(store: Store, input: RegisterAgentInput): Promise<string> {
  const now = store.now();
  const id = input.agentId ?? newId('agent', now);
  const row = {
    name: input.name,
    hostname: input.hostname,
    version: input.version,
    task_queue: input.taskQueue,
    metadata: JSON.stringify(input.metadata ?? {}),
    last_heartbeat_at: now,
  };
  await store.db
    .insertInto('agents')
    .values({ id, ...row, registered_at: now, code_servers: '[]', running_run_ids: '[]', errors: '[]' })
    .onConflict((oc) => oc.column('id').doUpdateSet(row))
    .execute();
  return id;
}

export async function heartbeat(
  store: Store,
  input: { agentId: string; codeServers: CodeServerStatus[]; runningRunIds: string[]; errors?: string[] | null },
): Promise<void> {
  const res = await store.db
    .updateTable('agents')
    .set({
      last_heartbeat_at: store.now(),
      code_servers: JSON.stringify(input.codeServers),
      running_run_ids: JSON.stringify(input.runningRunIds),
      errors: JSON.stringify(input.errors ?? []),
    })
    .where('id', '=', input.agentId)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) throw new OutpostError('UNKNOWN_AGENT', { detail: input.agentId });
}

export async function assertAgent(store: Store, agentId: string): Promise<void> {
  const row = await store.db.selectFrom('agents').select('id').where('id', '=', agentId).executeTakeFirst();
  if (!row) throw new OutpostError('UNKNOWN_AGENT', { detail: agentId });
}

export async function listAgents(store: Store): Promise<AgentView[]> {
  const rows = await store.db.selectFrom('agents').selectAll().orderBy('registered_at').orderBy('id').execute();
  return rows.map((r) => toView(store, r));
}

/** Healthy = heard from within 3 heartbeat intervals (computed at read time, so no daemon is needed). */
function toView(store: Store, r: AgentsTable): AgentView {
  const last = Number(r.last_heartbeat_at);
  return {
    id: r.id,
    name: r.name,
    hostname: r.hostname,
    version: r.version,
    taskQueue: r.task_queue,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    registeredAt: Number(r.registered_at),
    lastHeartbeatAt: last,
    healthy: store.now() - last <= 3 * store.limits.heartbeatIntervalMs,
    codeServers: JSON.parse(r.code_servers) as CodeServerStatus[],
    runningRunIds: JSON.parse(r.running_run_ids) as string[],
    errors: JSON.parse(r.errors) as string[],
  };
}
