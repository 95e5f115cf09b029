// Messages between the agent and a warm standby run worker, over the IPC channel the agent
// opens when it pre-spawns one (`outpost api run-worker-standby`). The standby boots Node, tsx
// and Outpost, imports the location, says `ready`, then waits for exactly one `run`. It
// answers `accepted` and cuts the channel, so from then on it is an ordinary run worker that
// survives the agent. If the channel closes before a run arrives, it exits having run nothing.
//
// Who runs a handed-over run is decided by one atomic step, not by a deadline: the standby
// creates `standby-claim` in the run's spool (a hard link: fails if it exists) before it writes
// anything; an agent that gives up waiting (handoff timeout, crash recovery) creates the same
// file before it kills the standby and spawns cold. Exactly one of them succeeds, however late
// either one is, and the file says which.
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Agent → standby: the one run this worker executes. */
export interface StandbyRunMessage {
  type: 'run';
  runId: string;
  job: string;
  /**
   * The run config itself, not a file: a file in the standby's own directory is wiped by a
   * restarting agent, possibly before a slow worker has read it (the run then failed).
   */
  runConfig: unknown;
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
    'runConfig' in r &&
    typeof r.spoolDir === 'string'
  );
}

export function isStandbyMessage(m: unknown): m is StandbyMessage {
  const r = m as { type?: unknown; runId?: unknown } | null;
  if (typeof r !== 'object' || r === null) return false;
  return r.type === 'ready' || (r.type === 'accepted' && typeof r.runId === 'string');
}

export const STANDBY_CLAIM_FILE = 'standby-claim';

/** Who claimed a handed-over run: the claim file holds this word. */
export type HandoffClaimant = 'standby' | 'agent';

/**
 * Claims a handed-over run in its spool: `claimed` (the caller decides it), `taken` (someone
 * claimed it first: see handoffClaimant) or `absent` (no such spool: the handoff never moved
 * it there). The file appears with its content at once (written aside, then hard-linked).
 */
export function claimHandoff(spoolDir: string, by: HandoffClaimant): 'claimed' | 'taken' | 'absent' {
  const aside = join(spoolDir, `${STANDBY_CLAIM_FILE}.${by}.${process.pid}.tmp`);
  try {
    writeFileSync(aside, by, { mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
  try {
    linkSync(aside, join(spoolDir, STANDBY_CLAIM_FILE));
    return 'claimed';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'taken';
    throw err;
  } finally {
    rmSync(aside, { force: true });
  }
}

/** Who holds the claim on a handed-over run; undefined while nobody does. */
export function handoffClaimant(spoolDir: string): HandoffClaimant | undefined {
  try {
    const who = readFileSync(join(spoolDir, STANDBY_CLAIM_FILE), 'utf8');
    return who === 'standby' || who === 'agent' ? who : undefined;
  } catch {
    return undefined;
  }
}
