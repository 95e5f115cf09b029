// Every activity the agent registers, built from explicit dependencies. Workflows import
// only the *type* of this object (through proxyActivities), never the code.
import type { ActivityDeps } from './deps.js';
import { createCodeLocationActivities } from './code-location.js';
import { createRunProcessActivities } from './run-process.js';
import { createWorkItemActivities } from './work-items.js';

export type { ActivityDeps } from './deps.js';
export type { LaunchHandle, LaunchOutcome, SuperviseOptions, SuperviseResult } from './run-process.js';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createWorkItemActivities(deps),
    ...createCodeLocationActivities(deps),
    ...createRunProcessActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
