// Runs: the run row (insert, with an optional dedupe key), reads, listing with cursor pagination,
// and status changes through the pure state machine, guarded against concurrent writers.
import { sql } from 'kysely';
import { OutpostError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { checkTransition, timestampsFor, type RunStatus } from '../core/run-state.js';
import type { RunsTable } from './schema.js';
import type { Store } from './store.js';
import type { Exec } from './work-items.js';

export interface RunView {
  id: string;
  status: RunStatus;
  job: string;
  location: string;
  runConfig: Record<string, unknown>;
  tags: Record<string, string>;
  dedupeKey: string | null;
  agentId: string | null;
  createdAt: number;
  launchedAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  updatedAt: number;
  /** Highest contiguous run-worker seq stored (the agent's shipping cursor). */
  lastSeq: number;
  /** Highest public event seq (events are 1..eventSeq, ENGINE events included). */
  eventSeq: number;
  stdoutBytes: number;
  stderrBytes: number;
  logsTruncated: boolean;
}

const num = (v: number | null): number | null => (v === null ? null : Number(v));

export function toRunView(r: RunsTable): RunView {
  const view = {
    id: r.id,
    status: r.status,
    job: r.job,
    location: r.location,
    runConfig: {} as Record<string, unknown>,
    tags: {} as Record<string, string>,
    dedupeKey: r.dedupe_key,
    agentId: r.agent_id,
    createdAt: Number(r.created_at),
    launchedAt: num(r.launched_at),
    startedAt: num(r.started_at),
    endedAt: num(r.ended_at),
    updatedAt: Number(r.updated_at),
    lastSeq: Number(r.last_seq),
    eventSeq: Number(r.event_seq),
    stdoutBytes: Number(r.stdout_bytes),
    stderrBytes: Number(r.stderr_bytes),
    logsTruncated: Number(r.logs_truncated) === 1,
  };
  // Parsed when read: a page of 1,000 runs listing ids must not parse 1,000 run configs.
  lazyJson(view, 'runConfig', r.run_config);
  lazyJson(view, 'tags', r.tags);
  return view;
}

function lazyJson<T extends object>(target: T, key: keyof T & string, text: string): void {
  let parsed: unknown;
  let done = false;
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      if (!done) {
        parsed = JSON.parse(text) as unknown;
        done = true;
      }
      return parsed;
    },
    set: (v: unknown) => {
      parsed = v;
      done = true;
    },
  });
}

export interface CreateRunInput {
  location: string;
  job: string;
  runConfig: Record<string, unknown>;
  tags: Record<string, string>;
  /** When set and already used, the existing run is returned and nothing is created. */
  dedupeKey?: string;
  /** Asset keys to materialize (Dagster); carried by the LAUNCH_RUN item. */
  assetSelection?: string[];
  /** Names of the job's ops to run (Dagster); carried by the LAUNCH_RUN item. */
  opSelection?: string[];
}

/**
 * Inserts a QUEUED run row (only: its LAUNCH_RUN item is services/runs-service.ts createRun's).
 * With a used dedupe key, returns the existing run and creates nothing.
 */
export async function insertRun(
  exec: Exec,
  store: Store,
  input: CreateRunInput,
): Promise<{ run: RunView; created: boolean }> {
  const now = store.now();
  const row: RunsTable = {
    id: newId('run', now),
    status: 'QUEUED',
    job: input.job,
    location: input.location,
    run_config: JSON.stringify(input.runConfig),
    tags: JSON.stringify(input.tags),
    dedupe_key: input.dedupeKey ?? null,
    agent_id: null,
    created_at: now,
    launched_at: null,
    started_at: null,
    ended_at: null,
    updated_at: now,
    last_seq: 0,
    event_seq: 0,
    stdout_bytes: 0,
    stderr_bytes: 0,
    log_bytes_stored: 0,
    logs_truncated: 0,
  };
  const inserted = await exec
    .insertInto('runs')
    .values(row)
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!inserted) {
    const existing = await exec
      .selectFrom('runs')
      .selectAll()
      .where('dedupe_key', '=', input.dedupeKey ?? '')
      .executeTakeFirstOrThrow();
    return { run: toRunView(existing), created: false };
  }
  return { run: toRunView(inserted), created: true };
}

/** Records `agentId` as the run's launching agent, unless one is recorded already. */
export async function recordLaunchingAgent(exec: Exec, runId: string, agentId: string): Promise<void> {
  await exec
    .updateTable('runs')
    .set({ agent_id: agentId })
    .where('id', '=', runId)
    .where('agent_id', 'is', null)
    .execute();
}

export async function getRun(exec: Exec, id: string): Promise<RunView | undefined> {
  const r = await exec.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toRunView(r) : undefined;
}

/** A run's status alone (no row to build): for loops that only watch it, e.g. a subscription. */
export async function getRunStatus(exec: Exec, id: string): Promise<RunStatus | undefined> {
  const r = await exec.selectFrom('runs').select('status').where('id', '=', id).executeTakeFirst();
  return r?.status;
}

/** The runs of `ids` that exist, by id, in one read. */
export async function getRuns(exec: Exec, ids: readonly string[]): Promise<Map<string, RunView>> {
  if (ids.length === 0) return new Map();
  const rows = await exec
    .selectFrom('runs')
    .selectAll()
    .where('id', 'in', [...new Set(ids)])
    .execute();
  return new Map(rows.map((r) => [r.id, toRunView(r)]));
}

export async function requireRun(exec: Exec, id: string): Promise<RunView> {
  const r = await getRun(exec, id);
  if (!r) throw new OutpostError('UNKNOWN_RUN', { detail: id });
  return r;
}

export interface RunFilter {
  status?: RunStatus[] | null;
  job?: string | null;
  location?: string | null;
}

/** Newest first. `after` is the id of the last run of the previous page (ids sort by time). */
export async function listRuns(
  store: Store,
  filter: RunFilter,
  first: number,
  after?: string | null,
): Promise<{ runs: RunView[]; hasNextPage: boolean }> {
  let q = store.db.selectFrom('runs').selectAll();
  if (filter.status?.length) q = q.where('status', 'in', filter.status);
  if (filter.job) q = q.where('job', '=', filter.job);
  if (filter.location) q = q.where('location', '=', filter.location);
  if (after) q = q.where('id', '<', after);
  const rows = await q
    .orderBy('id', 'desc')
    .limit(first + 1)
    .execute();
  return { runs: rows.slice(0, first).map(toRunView), hasNextPage: rows.length > first };
}

export interface SetStatusOptions {
  /** Throw ILLEGAL_RUN_TRANSITION (true) or leave the status as is (false). Default true. */
  strict?: boolean;
  agentId?: string;
  /**
   * Move only from one of these (the status the caller's decision was based on). Checked on the
   * status re-read here, and the UPDATE is conditional on it: a run that moved meanwhile
   * (STARTING -> STARTED) is left as is (changed: false), whatever `strict` says.
   */
  from?: readonly RunStatus[];
}

/**
 * Moves a run to `to` if the state machine allows it. The UPDATE is conditional on the status
 * read, so two concurrent writers cannot both apply conflicting changes.
 */
export async function setRunStatus(
  exec: Exec,
  store: Store,
  runId: string,
  to: RunStatus,
  opts: SetStatusOptions = {},
): Promise<{ run: RunView; changed: boolean }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const run = await requireRun(exec, runId);
    if (opts.from && !opts.from.includes(run.status)) return { run, changed: false };
    const r = checkTransition(run.status, to);
    if (!r.ok) {
      if (opts.strict === false) return { run, changed: false };
      throw new OutpostError('ILLEGAL_RUN_TRANSITION', {
        detail: `${runId}: ${r.reason}`,
        data: { from: run.status, to },
      });
    }
    if (!r.changed) return { run, changed: false };
    const now = store.now();
    const ts = timestampsFor(to);
    const res = await exec
      .updateTable('runs')
      .set({
        status: to,
        updated_at: now,
        ...(ts.launched ? { launched_at: now } : {}),
        ...(ts.started ? { started_at: now } : {}),
        ...(ts.ended ? { ended_at: now } : {}),
        ...(opts.agentId ? { agent_id: opts.agentId } : {}),
      })
      .where('id', '=', runId)
      .where('status', '=', run.status)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) return { run: await requireRun(exec, runId), changed: true };
  }
  throw new OutpostError('INTERNAL', { detail: `run ${runId} status kept changing under us` });
}

/**
 * Appends an ENGINE event written by the control plane itself. It takes the run's next public
 * seq; the counter row is locked by the UPDATE, so concurrent writers serialize on it.
 */
export async function appendEngineEvent(
  exec: Exec,
  store: Store,
  runId: string,
  message: string,
  level: 'info' | 'warn' | 'error' = 'error',
  data: Record<string, unknown> = {},
): Promise<void> {
  const row = await exec
    .updateTable('runs')
    .set({ event_seq: sql<number>`event_seq + 1` })
    .where('id', '=', runId)
    .returning('event_seq')
    .executeTakeFirstOrThrow();
  await exec
    .insertInto('run_events')
    .values({
      run_id: runId,
      seq: Number(row.event_seq),
      worker_seq: null,
      type: 'ENGINE',
      timestamp: store.now(),
      step_key: null,
      level,
      message,
      data: JSON.stringify(data),
      error: null,
    })
    .execute();
}

/**
 * Holds run `runId`'s row until the transaction ends (PostgreSQL FOR UPDATE; SQLite's write
 * transaction holds everything already). The order every transaction that writes a run and one
 * of its work items takes: the run first. The agent ingest holds the run, then reads the launch's
 * lease FOR SHARE (store/ownership.ts); a transaction that took the item first and then waited on
 * the run would close a deadlock cycle with it.
 */
export async function lockRun(exec: Exec, store: Store, runId: string): Promise<void> {
  await store.dialect.lockForUpdate(exec.selectFrom('runs').select('id').where('id', '=', runId)).execute();
}

/**
 * Whether run `runId` is in one of `statuses`, holding its row until the transaction ends (a
 * no-op UPDATE: a row lock on PostgreSQL, where FOR UPDATE would do too; SQLite's transactions
 * hold the write lock already). A concurrent setRunStatus waits, then re-reads.
 */
export async function lockRunIn(exec: Exec, runId: string, statuses: readonly RunStatus[]): Promise<boolean> {
  const res = await exec
    .updateTable('runs')
    .set({ updated_at: sql<number>`updated_at` })
    .where('id', '=', runId)
    .where('status', 'in', [...statuses])
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
