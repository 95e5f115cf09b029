// User roles and what each may do: a pure table, enforced by the user API (graphql/guard.ts)
// and mirrored by the web UI. Roles are ordered; each includes everything below it.

export const USER_ROLES = ['VIEWER', 'LAUNCHER', 'EDITOR', 'ADMIN'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const isUserRole = (v: unknown): v is UserRole => typeof v === 'string' && USER_ROLES.includes(v as UserRole);

export function roleRank(role: UserRole): number {
  return USER_ROLES.indexOf(role);
}

/** True when `role` is `min` or above. */
export function roleAtLeast(role: UserRole, min: UserRole): boolean {
  return roleRank(role) >= roleRank(min);
}

/**
 * The least role for each user-API mutation and guarded query. Anything not listed here is a
 * read open to VIEWER; every mutation must be listed (a test checks the schema against it).
 */
export const REQUIRED_ROLE = {
  // LAUNCHER: runs, and asking user code questions (testing schedules/sensors, partitions).
  launchRun: 'LAUNCHER',
  terminateRun: 'LAUNCHER',
  queryCodeLocation: 'LAUNCHER',
  testSchedule: 'LAUNCHER',
  testSensor: 'LAUNCHER',
  createSignInLink: 'VIEWER',
  // EDITOR: code locations and automation state.
  deployCodeLocation: 'EDITOR',
  reloadCodeLocation: 'EDITOR',
  deleteCodeLocation: 'EDITOR',
  setScheduleState: 'EDITOR',
  setSensorState: 'EDITOR',
  // ADMIN: tokens, agents and the audit log.
  createToken: 'ADMIN',
  revokeToken: 'ADMIN',
  tokens: 'ADMIN',
  auditLog: 'ADMIN',
} as const satisfies Record<string, UserRole>;

export type GuardedAction = keyof typeof REQUIRED_ROLE;

/** The least role for `action`; VIEWER for reads not in the table. */
export function requiredRole(action: string): UserRole {
  return (REQUIRED_ROLE as Record<string, UserRole>)[action] ?? 'VIEWER';
}

export function can(role: UserRole, action: string): boolean {
  return roleAtLeast(role, requiredRole(action));
}

/** The actions a role may take, for the web UI to show or hide controls. */
export function allowedActions(role: UserRole): GuardedAction[] {
  return (Object.keys(REQUIRED_ROLE) as GuardedAction[]).filter((a) => can(role, a));
}
