// What a launch starts for a run: Outpost's run worker (`outpost api execute-run` over the
// location's module), or Dagster's `execute_run` for a Dagster location.
import { OutpostError } from '../src/shared/errors.js';
import { codeLocationKind, type WorkItemPayload } from '../src/shared/work-items.js';
import type { RunLaunchSpec, WorkspacePort } from './ports.js';

/** What to start for a run: Outpost's run worker, or Dagster's `execute_run` for a Dagster location. */
export async function launchSpecOf(
  workspace: WorkspacePort,
  payload: WorkItemPayload<'LAUNCH_RUN'>,
): Promise<RunLaunchSpec> {
  const spec = await workspace.spec(payload.location);
  const common = {
    runId: payload.runId,
    location: payload.location,
    job: payload.job,
    runConfig: payload.runConfig,
    ...(spec.env ? { env: spec.env } : {}),
  };
  if (codeLocationKind(spec) === 'DAGSTER') {
    const target = await workspace.dagsterTarget(payload.location);
    return {
      ...common,
      module: '',
      cwd: target.workingDirectory,
      dagster: target,
      tags: payload.tags,
      ...(payload.assetSelection ? { assetSelection: payload.assetSelection } : {}),
      ...(payload.opSelection ? { opSelection: payload.opSelection } : {}),
    };
  }
  if (!spec.module) {
    throw new OutpostError('RUN_WORKER_SPAWN_FAILED', {
      detail: `location ${payload.location} has no module; command-based locations cannot run jobs yet`,
    });
  }
  return { ...common, module: spec.module, ...(spec.workingDirectory ? { cwd: spec.workingDirectory } : {}) };
}
