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
import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  openSync,
  readSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { NO_LINK_NO_WAIT } from './user-writable-files.js';

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
 * The spool is writable by user code (the standby imported the location before any run), so the
 * aside file is created exclusively (O_EXCL: never through a link planted at its name, which the
 * agent would otherwise have truncated and written, wherever it pointed); one planted there is removed.
 */
export function claimHandoff(spoolDir: string, by: HandoffClaimant): 'claimed' | 'taken' | 'absent' {
  const aside = join(spoolDir, `${STANDBY_CLAIM_FILE}.${by}.${process.pid}.tmp`);
  for (let attempt = 1; ; attempt++) {
    try {
      writeFileSync(aside, by, { mode: 0o600, flag: 'wx' });
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return 'absent';
      if (code !== 'EEXIST' || attempt === PLANTED_ASIDE_ATTEMPTS) throw err;
      rmSync(aside, { force: true }); // a link or file planted at our name; rm never follows a link
    }
  }
  try {
    linkSync(aside, join(spoolDir, STANDBY_CLAIM_FILE));
    return 'claimed';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'taken';
    throw err;
  } finally {
    removeAside(aside);
  }
}

/**
 * One unlink of the aside file (ours, created exclusively): rmSync's first call in a process
 * loads and compiles Node's removal code (~1 ms measured, in a standby on its way to RUN_START).
 */
function removeAside(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Tries at creating the aside file when something keeps reappearing at its name. */
const PLANTED_ASIDE_ATTEMPTS = 3;

const CLAIM_READ = constants.O_RDONLY | NO_LINK_NO_WAIT;

/**
 * Who holds the claim on a handed-over run; undefined while nobody does. Only a regular file
 * counts: a FIFO planted at its name would block the reading process (the agent) for good, and a
 * link would be read wherever it points.
 */
export function handoffClaimant(spoolDir: string): HandoffClaimant | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(join(spoolDir, STANDBY_CLAIM_FILE), CLAIM_READ);
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(16);
    const who = buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0));
    return who === 'standby' || who === 'agent' ? who : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
