// Temporal workers of one agent: the shared queue (all workflows, plus activities any agent
// may run) and the host-local queue `outpost-host-<agentId>` (activities that touch this host's
// processes and spool). Both register the same activity object; workflows route by queue.
// The workflows and the activities come from the composition root (src/cli/agent-root.ts):
// this module knows neither.
import { type NativeConnection, Worker } from '@temporalio/worker';

export interface AgentWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  hostTaskQueue: string;
  /** Every activity, by name (opaque here). */
  activities: object;
  /** Module that exports every workflow type (Temporal bundles it). */
  workflowsPath: string;
  /** Prebuilt bundle of workflowsPath (`npm run build`): loaded instead of bundling at start. */
  workflowBundlePath?: string | undefined;
  /** Run activities of this agent at once; default 200 (supervision is mostly idle waiting). */
  maxConcurrentActivities?: number;
}

/**
 * Open workflow tasks and local activities of the shared queue at once. A sensor or schedule
 * evaluation is a local activity that keeps its workflow task open while the code server
 * answers, so the SDK's default 40 tasks would let 40 slow evaluations stall every other
 * workflow of the agent; the same bound as activities keeps them apart. Tasks still run one
 * at a time on the workflow thread: a slot is mostly an evaluation waiting.
 */
const MAX_OPEN_WORKFLOW_TASKS = 200;

export async function createAgentWorkers(opts: AgentWorkersOptions): Promise<Worker[]> {
  const common = {
    connection: opts.connection,
    namespace: opts.namespace,
    activities: opts.activities,
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 200,
    // Let in-flight activities finish on SIGTERM, but never hang shutdown.
    shutdownGraceTime: '10s',
    shutdownForceTime: '30s',
  };
  const shared = await Worker.create({
    ...common,
    taskQueue: opts.taskQueue,
    maxConcurrentWorkflowTaskExecutions: MAX_OPEN_WORKFLOW_TASKS,
    maxConcurrentLocalActivityExecutions: MAX_OPEN_WORKFLOW_TASKS,
    ...(opts.workflowBundlePath
      ? { workflowBundle: { codePath: opts.workflowBundlePath } }
      : { workflowsPath: opts.workflowsPath }),
    // A workflow change without patched() must fail loudly, not retry its task forever.
    workflowFailureErrorTypes: { '*': ['NondeterminismError'] },
  });
  const host = await Worker.create({ ...common, taskQueue: opts.hostTaskQueue });
  return [shared, host];
}
