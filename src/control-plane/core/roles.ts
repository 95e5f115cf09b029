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
 * The least role for every root field of the user API: each query, mutation and subscription is
 * a decision written here (test/unit/control-plane/roles.test.ts fails on a field that is not,
 * and test/integration/attacks/role-sweep.test.ts calls each one as each role).
 */
export const REQUIRED_ROLE = {
  // VIEWER: reads (runs, their events and logs, locations, agents, work items), and its own sign-in link.
  codeLocations: 'VIEWER',
  codeLocation: 'VIEWER',
  runs: 'VIEWER',
  run: 'VIEWER',
  agents: 'VIEWER',
  workItems: 'VIEWER',
  workItem: 'VIEWER',
  me: 'VIEWER',
  runEvents: 'VIEWER',
  // LAUNCHER: runs, and asking user code questions (testing schedules/sensors, partitions).
  launchRun: 'LAUNCHER',
  terminateRun: 'LAUNCHER',
  queryCodeLocation: 'LAUNCHER',
  partitionKeys: 'LAUNCHER',
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

/** The least role for `action` (VIEWER for a name not in the table, such as a nested field). */
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
