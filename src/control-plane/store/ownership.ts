// Who may write what through the agent API (DESIGN.md, trust boundaries: "an agent writes only
// its own work"). The caller's agent id is already bound to its token (authorizeAgent); these
// checks decide whether that agent holds the work it is writing. Refusals change nothing.
//
// A run: its LAUNCH_RUN item's lease holder, until an agent reports the run launched; from then
// on only that launching agent, which owns the process and its spool (host-pinned activities
// run there, and a restarted agent keeps its id). Before the launch is reported, any agent of
// the lease holder's token may act: in split mode the poller claims and a worker agent of the
// same deployment launches, and bookkeeping activities run on whichever agent picks them up.
//
// A code location version: the deployment (token) holding that version's SYNC_CODE_LOCATION
// item. Every agent of a deployment serves the whole workspace and reports from its own code
// servers, and the claimer may be a poller-only agent, so the check is per token, per version.
// The same deployment is the one whose heartbeat may list the location's code server (what
// makes a location read as reachable).
//
// A run's writer can change while a write is on its way (the lease lapses and another agent
// claims the launch; another agent of the token reports the launch), so a write decides it again
// inside its own transaction (assertRunWriterIn), on the run row it has read there.
import { OutpostError } from '../../shared/errors.js';
import { agentTokenId } from './agents.js';
import type { Store } from './store.js';
import type { Exec } from './work-items.js';

export interface RunWriter {
  /** The run's recorded launching agent, or null while the launch is not reported. */
  launchedBy: string | null;
}

/** The run's LAUNCH_RUN lease as ownership reads it: its holder, and the holder's and the caller's tokens. */
export interface LaunchLease {
  lease_owner: string | null;
  holder_token: string | null;
  caller_token: string | null;
}

/**
 * Whether `agentId` writes run `runId`, from the run's launching agent and (read only while there
 * is none) its launch's lease; `lease` undefined: no lease row. Pure; throws RUN_NOT_OWNED.
 */
export function runWriterOf(
  runId: string,
  agentId: string,
  launchedBy: string | null,
  lease: LaunchLease | undefined,
): RunWriter {
  const refuse = (why: string) => new OutpostError('RUN_NOT_OWNED', { detail: `run ${runId}: ${why}` });
  if (launchedBy) {
    if (launchedBy === agentId) return { launchedBy };
    throw refuse(`it was launched by another agent, not ${agentId}`);
  }
  const holder = lease?.lease_owner;
  if (!holder) throw refuse('its launch is not held by any agent (not claimed, or its lease lapsed)');
  const sameToken = lease.holder_token !== null && lease.holder_token === lease.caller_token;
  if (holder !== agentId && !sameToken) throw refuse(`its launch is held by an agent of another token, not ${agentId}`);
  return { launchedBy: null };
}

/**
 * The read behind LaunchLease: one row of work_items by its run_id index, the tokens as scalar
 * subqueries (so a row lock taken on it holds the work item alone). One SQL text for any run and
 * agent: the SQLite ingest prepares it once (dialect/sqlite-run-events.ts).
 */
export function launchLeaseQuery(exec: Exec, runId: string, agentId: string) {
  return exec
    .selectFrom('work_items')
    .select((eb) => [
      'work_items.lease_owner',
      eb
        .selectFrom('agents')
        .select('agents.token_id')
        .whereRef('agents.id', '=', 'work_items.lease_owner')
        .as('holder_token'),
      eb.selectFrom('agents').select('agents.token_id').where('agents.id', '=', agentId).as('caller_token'),
    ])
    .where('work_items.run_id', '=', runId)
    .where('work_items.kind', '=', 'LAUNCH_RUN');
}

/**
 * assertRunWriter at write time, inside the transaction `trx` that writes run `runId`, given
 * `launchedBy` as that transaction read it from the run row it holds. The launching agent itself
 * costs no read; before a launch is reported, the launch's lease is read and held until commit,
 * so a lease moving meanwhile either waits for this write or is seen by it.
 */
export async function assertRunWriterIn(
  store: Store,
  trx: Exec,
  runId: string,
  agentId: string,
  launchedBy: string | null,
): Promise<void> {
  if (launchedBy) {
    runWriterOf(runId, agentId, launchedBy, undefined);
    return;
  }
  const lease = await store.dialect.lockForShare(launchLeaseQuery(trx, runId, agentId)).executeTakeFirst();
  runWriterOf(runId, agentId, null, lease);
}

/** Refuses (RUN_NOT_OWNED) an agent that does not hold run `runId`'s launch. */
export async function assertRunWriter(exec: Exec, runId: string, agentId: string): Promise<RunWriter> {
  const [writer] = await assertRunWriters(exec, [runId], agentId);
  return writer!;
}

/**
 * assertRunWriter for each of `runIds` (a runCursors call), in one query whatever their number:
 * refuses at the first of them, in their order, that the agent does not hold.
 */
export async function assertRunWriters(exec: Exec, runIds: readonly string[], agentId: string): Promise<RunWriter[]> {
  if (runIds.length === 0) return [];
  const rows = await exec
    .selectFrom('runs')
    .leftJoin('work_items', (j) =>
      j.onRef('work_items.run_id', '=', 'runs.id').on('work_items.kind', '=', 'LAUNCH_RUN'),
    )
    .leftJoin('agents as holder', 'holder.id', 'work_items.lease_owner')
    .select((eb) => [
      'runs.id',
      'runs.agent_id',
      'work_items.lease_owner',
      'holder.token_id as holder_token',
      eb.selectFrom('agents').select('agents.token_id').where('agents.id', '=', agentId).as('caller_token'),
    ])
    .where('runs.id', 'in', [...new Set(runIds)])
    .execute();
  const byId = new Map<string, (typeof rows)[number]>();
  for (const row of rows) if (!byId.has(row.id)) byId.set(row.id, row);
  return runIds.map((runId) => {
    const row = byId.get(runId);
    if (!row) throw new OutpostError('UNKNOWN_RUN', { detail: runId });
    return runWriterOf(runId, agentId, row.agent_id, row);
  });
}

/** Refuses (LOCATION_NOT_OWNED) an agent whose deployment was not asked to sync `location` at `version`. */
export async function assertLocationReporter(
  exec: Exec,
  location: string,
  version: number,
  agentId: string,
): Promise<void> {
  // deployCodeLocation enqueues exactly one SYNC_CODE_LOCATION per version, with this key.
  const item = await exec
    .selectFrom('work_items')
    .select('lease_owner')
    .where('dedupe_key', '=', `sync:${location}:${version}`)
    .where('kind', '=', 'SYNC_CODE_LOCATION')
    .executeTakeFirst();
  const holder = item?.lease_owner;
  if (holder && (holder === agentId || (await sameToken(exec, holder, agentId)))) return;
  throw new OutpostError('LOCATION_NOT_OWNED', {
    detail: `${location} version ${version}: ${
      !item ? 'no such version was deployed' : !holder ? 'its sync is not claimed yet' : 'another deployment syncs it'
    }`,
  });
}

/**
 * Of `locations` (an agent's heartbeat), those its deployment serves: the token holding the
 * location's latest claimed SYNC_CODE_LOCATION item (the current version's, or while that is
 * not claimed yet, the version before it, whose code server still answers). Others are dropped,
 * so one agent cannot make a location it does not serve read as reachable.
 */
export async function servedLocations(exec: Exec, agentId: string, locations: readonly string[]): Promise<Set<string>> {
  const served = new Set<string>();
  if (locations.length === 0) return served;
  const current = await exec
    .selectFrom('code_locations')
    .select(['name', 'version'])
    .where('name', 'in', [...new Set(locations)])
    .execute();
  if (current.length === 0) return served;
  const key = (name: string, version: number) => `sync:${name}:${version}`;
  const items = await exec
    .selectFrom('work_items')
    .leftJoin('agents', 'agents.id', 'work_items.lease_owner')
    .select(['work_items.dedupe_key', 'work_items.lease_owner', 'agents.token_id'])
    .where('work_items.kind', '=', 'SYNC_CODE_LOCATION')
    .where(
      'work_items.dedupe_key',
      'in',
      current.flatMap((l) => [key(l.name, l.version), key(l.name, l.version - 1)]),
    )
    .where('work_items.lease_owner', 'is not', null)
    .execute();
  const holders = new Map(items.map((i) => [i.dedupe_key, i]));
  const mine = await agentTokenId(exec, agentId);
  for (const l of current) {
    const holder = holders.get(key(l.name, l.version)) ?? holders.get(key(l.name, l.version - 1));
    if (holder && (holder.lease_owner === agentId || (mine !== undefined && holder.token_id === mine))) {
      served.add(l.name);
    }
  }
  return served;
}

/**
 * Of `runIds` (an agent's heartbeat), the runs this agent holds: launched by it, or, before a
 * launch is reported, whose LAUNCH_RUN lease it holds. Others are dropped, so one agent cannot
 * list another's runs as its own. Order is kept. Stricter than assertRunWriter (no other agent of
 * the lease holder's token), on purpose and display only: a split-mode worker's run shows from its
 * launch report on (README, agent API ownership table).
 */
export async function heldRuns(exec: Exec, agentId: string, runIds: readonly string[]): Promise<string[]> {
  if (runIds.length === 0) return [];
  const rows = await exec
    .selectFrom('runs')
    .leftJoin('work_items', (j) =>
      j.onRef('work_items.run_id', '=', 'runs.id').on('work_items.kind', '=', 'LAUNCH_RUN'),
    )
    .select('runs.id')
    .where('runs.id', 'in', [...new Set(runIds)])
    .where((eb) =>
      eb.or([
        eb('runs.agent_id', '=', agentId),
        eb.and([eb('runs.agent_id', 'is', null), eb('work_items.lease_owner', '=', agentId)]),
      ]),
    )
    .execute();
  const held = new Set(rows.map((r) => r.id));
  return runIds.filter((id) => held.has(id));
}

async function sameToken(exec: Exec, a: string, b: string): Promise<boolean> {
  const [ta, tb] = await Promise.all([agentTokenId(exec, a), agentTokenId(exec, b)]);
  return ta !== undefined && ta === tb;
}
