// Agents: registration, heartbeats (code-server statuses, running runs, errors), health.
import { OutpostError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { checkAgentRegistration, checkHeartbeat } from '../core/input-rules.js';
import { recordAudit } from './audit-log.js';
import type { AgentsTable } from './schema.js';
import type { Store } from './store.js';
import type { Exec } from './work-items.js';

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

/** The calling agent token, as registerAgent needs it. */
export interface AgentTokenRef {
  id: string;
  name: string;
  /** The token this one succeeds (TokenInfo.replaces). */
  replaces: string | null;
}

/**
 * Registers (or re-registers, keeping its id) an agent, bound to the token that registered it.
 * An id bound to another token stays bound to it, even once that token is revoked (a revoked
 * agent's id is readable by any VIEWER): re-registering it is refused (AGENT_ID_TAKEN) and
 * changes nothing. The one way to move an id to another token is that token having been created
 * as the bound one's successor by an ADMIN (rotation); the takeover is audited. An id that
 * predates binding is bound to the first token that registers it.
 */
export async function registerAgent(store: Store, input: RegisterAgentInput, token: AgentTokenRef): Promise<string> {
  checkAgentRegistration(input);
  const tokenId = token.id;
  const now = store.now();
  const id = input.agentId ?? newId('agent', now);
  const row = {
    name: input.name,
    hostname: input.hostname,
    version: input.version,
    task_queue: input.taskQueue,
    metadata: JSON.stringify(input.metadata ?? {}),
    last_heartbeat_at: now,
    token_id: tokenId,
  };
  // One transaction: the binding read, the conditional upsert (two tokens racing for a new id
  // cannot both win) and a takeover's audit row are written together or not at all, so a
  // takeover is never done unaudited (a retry after a failed audit would read the id as its own).
  await store.transaction(async (trx) => {
    const before = input.agentId ? await agentTokenId(trx, id) : undefined;
    const done = await trx
      .insertInto('agents')
      .values({ id, ...row, registered_at: now, code_servers: '[]', running_run_ids: '[]', errors: '[]' })
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet(row)
          .where((eb) =>
            eb.or([
              eb('agents.token_id', '=', tokenId),
              eb('agents.token_id', 'is', null),
              ...(token.replaces ? [eb('agents.token_id', '=', token.replaces)] : []),
            ]),
          ),
      )
      .returning('id')
      .executeTakeFirst();
    if (!done) {
      throw new OutpostError('AGENT_ID_TAKEN', {
        detail: `agent ${id} is registered with another token, which this one does not replace`,
      });
    }
    if (before !== undefined && before !== tokenId && before === token.replaces) {
      await recordAudit(
        store,
        {
          actorTokenId: tokenId,
          actor: token.name,
          action: 'takeOverAgent',
          target: `${id} from ${before}`,
          outcome: 'ok',
        },
        trx,
      );
    }
  });
  return id;
}

/**
 * Refuses (FORBIDDEN) an agent id that is unknown or bound to another token, the same answer
 * for both so ids cannot be probed. An agent registered before tokens were bound is bound to
 * the first token that acts as it (agents keep running across a control-plane upgrade).
 */
export async function authorizeAgent(store: Store, agentId: string, tokenId: string): Promise<void> {
  const read = () => store.db.selectFrom('agents').select('token_id').where('id', '=', agentId).executeTakeFirst();
  let row = await read();
  if (row && row.token_id === null) {
    // Conditional, so of two tokens racing for an unbound agent only the first binds it.
    await store.db
      .updateTable('agents')
      .set({ token_id: tokenId })
      .where('id', '=', agentId)
      .where('token_id', 'is', null)
      .execute();
    row = await read();
  }
  if (row?.token_id !== tokenId) {
    throw new OutpostError('FORBIDDEN', { detail: `agent ${agentId} is not registered with this token` });
  }
}

/** The token an agent is bound to, or undefined (unknown agent, or not yet bound). */
export async function agentTokenId(db: Exec, agentId: string): Promise<string | undefined> {
  const row = await db.selectFrom('agents').select('token_id').where('id', '=', agentId).executeTakeFirst();
  return row?.token_id ?? undefined;
}

export async function heartbeat(
  store: Store,
  input: { agentId: string; codeServers: CodeServerStatus[]; runningRunIds: string[]; errors?: string[] | null },
): Promise<void> {
  checkHeartbeat(input);
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

/**
 * The agent that just reported `location` loaded serves its code server: recorded now, as its
 * next heartbeat would, so the location reads as reachable from the moment it reads as LOADED
 * (a deploy would otherwise show "unreachable" for up to a heartbeat interval). The next
 * heartbeat replaces the list with the agent's own.
 */
export async function noteCodeServer(store: Store, agentId: string, status: CodeServerStatus): Promise<void> {
  await store.transaction(async (trx) => {
    const row = await trx.selectFrom('agents').select('code_servers').where('id', '=', agentId).executeTakeFirst();
    if (!row) return;
    const servers = (JSON.parse(row.code_servers) as CodeServerStatus[]).filter((c) => c.location !== status.location);
    await trx
      .updateTable('agents')
      .set({ code_servers: JSON.stringify([...servers, status]) })
      .where('id', '=', agentId)
      .execute();
  });
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

/** Locations whose code server a healthy agent reports: those a run or query can reach now. */
export async function reachableLocations(store: Store): Promise<Set<string>> {
  const since = store.now() - 3 * store.limits.heartbeatIntervalMs;
  const rows = await store.db
    .selectFrom('agents')
    .select('code_servers')
    .where('last_heartbeat_at', '>=', since)
    .execute();
  const names = new Set<string>();
  for (const r of rows) for (const cs of JSON.parse(r.code_servers) as CodeServerStatus[]) names.add(cs.location);
  return names;
}
