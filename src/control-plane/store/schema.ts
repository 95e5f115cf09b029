// Row types of the metadata database, shared by both dialects. Times are epoch ms (BIGINT),
// JSON values are TEXT (the same on SQLite and PostgreSQL), booleans are 0/1 integers.
export interface AgentsTable {
  id: string;
  name: string;
  hostname: string;
  version: string;
  task_queue: string;
  metadata: string;
  registered_at: number;
  last_heartbeat_at: number;
  /** JSON: [{ location, status, error }] from the last heartbeat. */
  code_servers: string;
  /** JSON: string[] */
  running_run_ids: string;
  /** JSON: string[] */
  errors: string;
  /** The token that registered this agent; only that token may act as it (null: not yet bound). */
  token_id: string | null;
}

export interface TokensTable {
  id: string;
  kind: 'user' | 'agent';
  name: string;
  /** hex sha256 of the plaintext token; the plaintext is never stored. */
  hash: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
  /** VIEWER | LAUNCHER | EDITOR | ADMIN for user tokens; null for agent tokens. */
  role: string | null;
  /** The token that created this one (null: bootstrap or created before 0006). */
  created_by: string | null;
  /** Agent tokens: the agent token this one succeeds; it may take over that token's agent ids. */
  replaces: string | null;
}

/** Browser sessions: the cookie holds a random id; only its sha256 is stored. */
export interface SessionsTable {
  id_hash: string;
  token_id: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

/** One-time sign-in codes (the link `outpost dev` prints): short-lived, used once. */
export interface SigninCodesTable {
  code_hash: string;
  token_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** Every user-API mutation and token change, refusals included. */
export interface AuditLogTable {
  id: string;
  at: number;
  actor_token_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  /** `ok`, or the error code of a refusal or failure. */
  outcome: string;
}

export interface CodeLocationsTable {
  name: string;
  /** JSON CodeLocationSpec. */
  spec: string;
  version: number;
  status: 'LOADING' | 'LOADED' | 'ERROR';
  /** JSON LocationSnapshot, when LOADED. */
  snapshot: string | null;
  load_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface WorkItemsTable {
  id: string;
  kind: string;
  payload: string;
  status: 'QUEUED' | 'CLAIMED' | 'ACKED' | 'COMPLETED' | 'FAILED';
  run_id: string | null;
  dedupe_key: string | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  attempts: number;
  max_attempts: number;
  workflow_id: string | null;
  result: string | null;
  /** JSON { code, message }. */
  error: string | null;
  /**
   * Claimed only before this time, or always when null. A schedule tick's: its next tick's time
   * (a tick not begun by then is skipped, services/ticks-service.ts).
   */
  claim_until: number | null;
  created_at: number;
  updated_at: number;
}

export interface RunsTable {
  id: string;
  status: 'QUEUED' | 'STARTING' | 'STARTED' | 'SUCCESS' | 'FAILURE' | 'CANCELING' | 'CANCELED';
  job: string;
  location: string;
  run_config: string;
  tags: string;
  /** Unique when set: `sensor:<loc>:<sensor>:<runKey>` / `schedule:<loc>:<name>:<tick>:<key>`. */
  dedupe_key: string | null;
  agent_id: string | null;
  created_at: number;
  launched_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  updated_at: number;
  /** Highest contiguous run-worker seq stored, advanced in the same transaction as the insert. */
  last_seq: number;
  /** Highest public event seq given out (worker and ENGINE events share it: 1..N, no gap). */
  event_seq: number;
  /** Source offsets accepted per stream (including bytes dropped past the cap). */
  stdout_bytes: number;
  stderr_bytes: number;
  /** Bytes actually stored, both streams; compared against the cap. */
  log_bytes_stored: number;
  logs_truncated: number;
}

export interface RunEventsTable {
  run_id: string;
  /** Public seq: 1..N per run without gap, in the order events were stored (ENGINE included). */
  seq: number;
  /** The run worker's own seq (the shipping idempotency key); NULL for ENGINE events. */
  worker_seq: number | null;
  type: string;
  timestamp: number;
  step_key: string | null;
  level: string | null;
  message: string | null;
  data: string | null;
  error: string | null;
}

/** Worker events stored past a gap in worker seqs; they move to run_events when it fills. */
export interface RunEventsPendingTable {
  run_id: string;
  worker_seq: number;
  type: string;
  timestamp: number;
  step_key: string | null;
  level: string | null;
  message: string | null;
  data: string | null;
  error: string | null;
}

export interface ComputeLogsTable {
  run_id: string;
  stream: 'stdout' | 'stderr';
  offset: number;
  data: Buffer;
}

export interface InstigatorsTable {
  location: string;
  kind: 'SCHEDULE' | 'SENSOR';
  name: string;
  /** Set by setScheduleState/setSensorState; null = the snapshot's defaultStatus. */
  state: 'RUNNING' | 'STOPPED' | null;
  cursor: string | null;
  /** Last tick the daemon fired (schedules: the cron time; sensors: the evaluation time). */
  last_tick_at: number | null;
  updated_at: number;
}

export interface TicksTable {
  id: string;
  location: string;
  kind: 'SCHEDULE' | 'SENSOR';
  name: string;
  tick_time: number;
  status: 'STARTED' | 'SUCCESS' | 'SKIPPED' | 'FAILURE';
  work_item_id: string | null;
  /** JSON string[] of run ids created by this tick. */
  run_ids: string;
  skip_reason: string | null;
  error: string | null;
  cursor: string | null;
  created_at: number;
  ended_at: number | null;
}

/**
 * The last version a deleted location reached (0 if none was): a later deploy under its name goes
 * past it. A name's row is also its write lock (store/locations.ts lockLocation).
 */
export interface LocationVersionFloorsTable {
  name: string;
  version: number;
}

/** ASSET_MATERIALIZATION / ASSET_OBSERVATION events by asset key (store/asset-events.ts). */
export interface AssetEventsTable {
  run_id: string;
  worker_seq: number;
  location: string;
  asset_key: string;
  /** ASSET_CHECK_EVALUATION: an asset check's evaluation, keyed by the checked asset. */
  type: 'ASSET_MATERIALIZATION' | 'ASSET_OBSERVATION' | 'ASSET_CHECK_EVALUATION';
  timestamp: number;
  /** ASSET_CHECK_EVALUATION only (null otherwise): the check, its outcome (1 passed, 0 not), its metadata JSON. */
  check_name: string | null;
  check_passed: number | null;
  check_severity: string | null;
  check_metadata: string | null;
}

export interface Database {
  agents: AgentsTable;
  tokens: TokensTable;
  code_locations: CodeLocationsTable;
  work_items: WorkItemsTable;
  runs: RunsTable;
  run_events: RunEventsTable;
  run_events_pending: RunEventsPendingTable;
  compute_logs: ComputeLogsTable;
  instigators: InstigatorsTable;
  ticks: TicksTable;
  sessions: SessionsTable;
  signin_codes: SigninCodesTable;
  audit_log: AuditLogTable;
  location_version_floors: LocationVersionFloorsTable;
  asset_events: AssetEventsTable;
}

/** Every table, for code that must look at all of them (tests that prove nothing changed). */
export const STORE_TABLES = [
  'agents',
  'tokens',
  'code_locations',
  'work_items',
  'runs',
  'run_events',
  'run_events_pending',
  'compute_logs',
  'instigators',
  'ticks',
  'sessions',
  'signin_codes',
  'location_version_floors',
  'asset_events',
] as const satisfies readonly (keyof Database)[];
/**
 * The audit log is kept apart: it records refusals too, so "a refused request changed nothing"
 * compares STORE_TABLES and checks the audit log on its own.
 */
export const AUDIT_TABLES = ['audit_log'] as const satisfies readonly (keyof Database)[];
// A table added to Database but not to STORE_TABLES or AUDIT_TABLES fails to compile here.
const _allTables: Record<keyof Database, true> = Object.fromEntries(
  [...STORE_TABLES, ...AUDIT_TABLES].map((t) => [t, true]),
) as Record<(typeof STORE_TABLES)[number] | (typeof AUDIT_TABLES)[number], true>;
void _allTables;
