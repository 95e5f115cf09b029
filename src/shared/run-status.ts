// A run's statuses and which of them are final: the one list every part reads (control-plane
// state machine, agent activities, CLI, UI timing). Pure and import-free, so workflow code may
// import it too.

export const RUN_STATUSES = ['QUEUED', 'STARTING', 'STARTED', 'SUCCESS', 'FAILURE', 'CANCELING', 'CANCELED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A run in one of these has ended: no status change follows (the state machine allows none). */
export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>(['SUCCESS', 'FAILURE', 'CANCELED']);

/** True for SUCCESS, FAILURE and CANCELED; accepts any string (e.g. a status read from an API). */
export const isTerminalRunStatus = (status: string): boolean =>
  (TERMINAL_RUN_STATUSES as ReadonlySet<string>).has(status);
