// The run status machine, pure: which status changes are legal, and what each run event
// does to the status. The store wraps it; nothing here does I/O.
//
//   QUEUED -> STARTING -> STARTED -> SUCCESS | FAILURE
//      \________\___________\-----> CANCELING -> CANCELED (or SUCCESS/FAILURE if it finished first)
import { OutpostError } from '../../shared/errors.js';
import { RUN_STATUSES, TERMINAL_RUN_STATUSES, isTerminalRunStatus, type RunStatus } from '../../shared/run-status.js';

export { RUN_STATUSES, type RunStatus };

/** The terminal set lives in src/shared/run-status.ts (one list for every part); these names stay for the store. */
export const TERMINAL_STATUSES = TERMINAL_RUN_STATUSES;
export const isTerminal = (s: RunStatus): boolean => isTerminalRunStatus(s);

/** Legal targets from each status (a status to itself is a harmless repeat, handled apart). */
export const LEGAL_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  // A run worker's RUN_START may be shipped before reportRunLaunched lands: QUEUED -> STARTED.
  // A launch that fails outright ends QUEUED -> FAILURE; an unclaimed launch is cancelled directly.
  QUEUED: ['STARTING', 'STARTED', 'FAILURE', 'CANCELING', 'CANCELED'],
  STARTING: ['STARTED', 'SUCCESS', 'FAILURE', 'CANCELING', 'CANCELED'],
  STARTED: ['SUCCESS', 'FAILURE', 'CANCELING', 'CANCELED'],
  // The run may finish on its own before the stop reaches it.
  CANCELING: ['SUCCESS', 'FAILURE', 'CANCELED'],
  SUCCESS: [],
  FAILURE: [],
  CANCELED: [],
};

export type TransitionResult = { ok: true; status: RunStatus; changed: boolean } | { ok: false; reason: string };

/** Checks `from -> to`. Repeats (`from === to`) are legal and change nothing. */
export function checkTransition(from: RunStatus, to: RunStatus): TransitionResult {
  if (from === to) return { ok: true, status: from, changed: false };
  if (LEGAL_TRANSITIONS[from].includes(to)) return { ok: true, status: to, changed: true };
  return { ok: false, reason: `run status ${from} -> ${to} is not allowed` };
}

/** Like checkTransition, but throws ILLEGAL_RUN_TRANSITION. */
export function transition(from: RunStatus, to: RunStatus): { status: RunStatus; changed: boolean } {
  const r = checkTransition(from, to);
  if (!r.ok) throw new OutpostError('ILLEGAL_RUN_TRANSITION', { detail: r.reason, data: { from, to } });
  return { status: r.status, changed: r.changed };
}

/** The status an event type (a RunEventType) asks for, or undefined for events that do not move status. */
export function statusForEvent(type: string): RunStatus | undefined {
  switch (type) {
    case 'RUN_START':
      return 'STARTED';
    case 'RUN_SUCCESS':
      return 'SUCCESS';
    case 'RUN_FAILURE':
      return 'FAILURE';
    case 'RUN_CANCELED':
      return 'CANCELED';
    default:
      return undefined;
  }
}

/**
 * Applies one stored event to the status. Events are facts, so an event that cannot move the
 * status (e.g. RUN_SUCCESS after a STARTING timeout already failed the run) leaves it as is;
 * a RUN_START while CANCELING keeps CANCELING, so the stop request is not forgotten.
 */
export function applyEvent(status: RunStatus, type: string): RunStatus {
  const wanted = statusForEvent(type);
  if (!wanted) return status;
  if (status === 'CANCELING' && wanted === 'STARTED') return status;
  const r = checkTransition(status, wanted);
  return r.ok ? r.status : status;
}

/** Timestamp columns a change into `to` sets. */
export function timestampsFor(to: RunStatus): { started?: true; ended?: true; launched?: true } {
  if (to === 'STARTING') return { launched: true };
  if (to === 'STARTED') return { started: true };
  if (isTerminal(to)) return { ended: true };
  return {};
}
