// Every activity the agent registers, built from the ports it declares (ports.ts) and the
// composition root implements. Workflows import only the *type* of this object (through
// proxyActivities), never the code.
import type { ActivityDeps } from './ports.js';
import { createCodeLocationActivities } from './code-location.js';
import { createRunProcessActivities } from './run-process.js';
import { createWorkItemActivities } from './work-items.js';

export type * from './ports.js';
export type { LaunchOutcome, SuperviseOptions, SuperviseResult } from './run-process.js';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createWorkItemActivities(deps),
    ...createCodeLocationActivities(deps),
    ...createRunProcessActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
