// A run's Temporal workflow id as tests and fault checks expect it, taken from the product's one
// id scheme (src/shared/ids.ts) so no test spells `run-<id>` by hand.
import { workflowIdFor } from '../../src/shared/ids.js';

/** `run-<runId>`: the id of the run workflow a LAUNCH_RUN item starts. */
export const runWorkflowId = (runId: string): string => workflowIdFor({ kind: 'LAUNCH_RUN', id: runId, runId });
