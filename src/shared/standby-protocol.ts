// Messages between the agent and a warm standby run worker, over the IPC channel the agent
// opens when it pre-spawns one (`outpost api run-worker-standby`). The standby boots Node, tsx
// and Outpost, imports the location, says `ready`, then waits for exactly one `run`. It
// answers `accepted` and cuts the channel, so from then on it is an ordinary run worker that
// survives the agent. If the channel closes before a run arrives, it exits having run nothing.

/** Agent → standby: the one run this worker executes. */
export interface StandbyRunMessage {
  type: 'run';
  runId: string;
  job: string;
  configFile: string;
  /** The run's spool; the agent has already moved the standby's log files into it. */
  spoolDir: string;
}

/** Standby → agent. `loadError` set: the location failed to import; not used for runs. */
export type StandbyMessage = { type: 'ready'; loadError?: string } | { type: 'accepted'; runId: string };

export function isStandbyRunMessage(m: unknown): m is StandbyRunMessage {
  const r = m as Partial<StandbyRunMessage> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.type === 'run' &&
    typeof r.runId === 'string' &&
    typeof r.job === 'string' &&
    typeof r.configFile === 'string' &&
    typeof r.spoolDir === 'string'
  );
}

export function isStandbyMessage(m: unknown): m is StandbyMessage {
  const r = m as { type?: unknown; runId?: unknown } | null;
  if (typeof r !== 'object' || r === null) return false;
  return r.type === 'ready' || (r.type === 'accepted' && typeof r.runId === 'string');
}
