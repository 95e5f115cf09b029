// The agent's run activities (launchRun, superviseRun, ...) against a scripted stack, without a
// Temporal worker: tests run them as the run workflow would (MockActivityEnvironment), on a real
// ProcessLauncher and real spools. Code locations are never reached by these paths (launches
// read the location's spec as the control plane serves it to the agent).
import { createActivities, type ActivityDeps } from '../../activities/index.js';
import { createControlPlaneClient } from '../../src/agent/control-plane-client.js';
import type { ProcessLauncher } from '../../src/agent/launchers/process-launcher.js';
import { createRunSpools } from '../../src/agent/run-spool.js';
import { createLogger, type Logger } from '../../src/shared/logger.js';
import type { ScriptedStack } from './scripted-agent.js';

type ControlPlaneClient = ReturnType<typeof createControlPlaneClient>;
type RunSpools = ReturnType<typeof createRunSpools>;

export interface RunActivitiesOptions {
  launcher: ProcessLauncher;
  hostTaskQueue: string;
  supervisePollMs: number;
  /** The agent's client (default: a real one with the stack's agent token); tests may wrap it. */
  controlPlane?: ControlPlaneClient;
  /** Wraps the real spools (e.g. to count those open at once). */
  spool?: (spools: RunSpools) => RunSpools;
  /** The agent's logger (default: warn level to stdout); tests that read what it said pass a captured one. */
  logger?: Logger;
}

export function runActivities(s: ScriptedStack, o: RunActivitiesOptions): ReturnType<typeof createActivities> {
  const logger = o.logger ?? createLogger({ name: 'agent', level: 'warn' });
  const controlPlane = o.controlPlane ?? createControlPlaneClient({ url: s.url, token: s.agentToken });
  const spools = createRunSpools({
    controlPlane,
    agentId: () => s.agentId,
    spoolDir: (runId) => o.launcher.spoolDir(runId),
    logger,
  });
  const deps = {
    controlPlane,
    launcher: o.launcher,
    spool: o.spool ? o.spool(spools) : spools,
    agentId: () => s.agentId,
    hostTaskQueue: o.hostTaskQueue,
    logger,
    codeLocations: undefined,
    workspace: {
      spec: async (name: string) => (await controlPlane.workspace(s.agentId)).find((e) => e.name === name)!.spec,
    },
    supervisePollMs: o.supervisePollMs,
  } as unknown as ActivityDeps;
  return createActivities(deps);
}
