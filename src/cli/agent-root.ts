// The agent program's composition root: the one module that knows both the agent's parts
// (src/agent/) and the Temporal code (activities/, workflows/). It builds the implementations
// of the ports activities declare (activities/ports.ts) from the agent's parts, so the
// compiler checks each one against its port here, and hands the activities and the workflows
// to the agent's workers. `outpost agent` and the tests start agents through it.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createActivities, type ActivityDeps } from '../../activities/index.js';
import { startAgent, type AgentParts, type RunningAgent, type StartAgentOptions } from '../agent/agent.js';
import { CodeLocationRouter } from '../agent/code-location-router.js';
import { DagsterCodeLocation } from '../agent/dagster/dagster-code-location.js';
import { createOutpostCodeLocations } from '../agent/outpost-code-location.js';
import { createRunSpools } from '../agent/run-spool.js';
import { OutpostError } from '../shared/errors.js';

/** Every workflow type the agent's shared-queue worker registers. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/**
 * Compiled (dist/, where the build rewrote the path above to .js), the workflow bundle the build
 * wrote beside the compiled trees: workers load it instead of bundling at every start. From
 * source there is none, so tests never load a stale bundle.
 */
export function workflowBundlePath(): string | undefined {
  if (!WORKFLOWS_PATH.endsWith('.js')) return undefined;
  const bundle = join(dirname(dirname(WORKFLOWS_PATH)), 'workflow-bundle.js');
  return existsSync(bundle) ? bundle : undefined;
}

/** How long a Dagster launch waits for its location's server to be loaded (it may be restarting). */
const DAGSTER_TARGET_WAIT_MS = 60_000;

/** The activities' ports, implemented by the agent's parts. */
export function activityDeps(parts: AgentParts): ActivityDeps {
  const { controlPlane, codeServers, launcher, logger } = parts;
  return {
    controlPlane,
    launcher,
    // One port over both kinds of location, routed by the location's spec.
    codeLocations: new CodeLocationRouter(codeServers, {
      outpost: createOutpostCodeLocations({ codeServers, logger }),
      dagster: new DagsterCodeLocation(codeServers, { logger }),
    }),
    workspace: {
      async spec(location) {
        let spec = codeServers.spec(location);
        if (!spec) {
          await codeServers.refresh();
          spec = codeServers.spec(location);
        }
        if (!spec)
          throw new OutpostError('UNKNOWN_LOCATION', { detail: `${location} is not in the agent's workspace` });
        return spec;
      },
      async dagsterTarget(location) {
        return (await codeServers.dagsterServer(location, DAGSTER_TARGET_WAIT_MS)).loaded.target;
      },
    },
    spool: createRunSpools({
      controlPlane,
      agentId: parts.agentId,
      spoolDir: (runId) => launcher.spoolDir(runId),
      logger,
    }),
    agentId: parts.agentId,
    hostTaskQueue: parts.hostTaskQueue,
    logger,
    ...(parts.launchChecks ? { prefetchedCursor: (runId: string) => parts.launchChecks?.take(runId) } : {}),
    ...(parts.launchAhead ? { launchAhead: parts.launchAhead } : {}),
    ...(parts.runWorkflowOpen ? { runWorkflowOpen: parts.runWorkflowOpen } : {}),
  };
}

/** Starts an agent that runs Outpost's workflows and activities. */
export function startOutpostAgent(opts: Omit<StartAgentOptions, 'temporal'>): Promise<RunningAgent> {
  return startAgent({
    ...opts,
    temporal: {
      workflowsPath: WORKFLOWS_PATH,
      workflowBundlePath: workflowBundlePath(),
      activities: (parts) => createActivities(activityDeps(parts)),
    },
  });
}
