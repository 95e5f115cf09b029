// Every workflow type the agent's worker registers (its workflowsPath).
export {
  evaluateScheduleWorkflowV3,
  evaluateSensorWorkflowV3,
  syncCodeLocationWorkflowV3,
  queryCodeLocationWorkflowV3,
  syncCodeLocationWorkflowV2,
  evaluateScheduleWorkflowV2,
  evaluateSensorWorkflowV2,
  queryCodeLocationWorkflowV2,
  syncCodeLocationWorkflow,
  evaluateScheduleWorkflow,
  evaluateSensorWorkflow,
  queryCodeLocationWorkflow,
} from './code-location.js';
export { runWorkflow, runWorkflowV2, runWorkflowV3, terminateSignal, phaseQuery } from './run.js';
export { runWorkflowV4 } from './run-v4.js';
export { terminateRunWorkflow } from './terminate-run.js';
