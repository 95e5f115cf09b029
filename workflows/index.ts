// Every workflow type the agent's worker registers (its workflowsPath).
export {
  syncCodeLocationWorkflow,
  evaluateScheduleWorkflow,
  evaluateSensorWorkflow,
  queryCodeLocationWorkflow,
} from './code-location.js';
export { runWorkflow, terminateSignal, phaseQuery } from './run.js';
export { terminateRunWorkflow } from './terminate-run.js';
