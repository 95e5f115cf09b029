// Defence in depth only: the agent already execs user code with a credential-free environment
// (src/shared/child-env.ts), which is what /proc/<pid>/environ shows. This removes the same
// names again from process.env in case a hand-written spawner did not.
import { isCredentialName } from '../../shared/child-env.js';

export function stripCredentials(env: NodeJS.ProcessEnv = process.env): string[] {
  const removed = Object.keys(env).filter(isCredentialName);
  for (const key of removed) delete env[key];
  return removed;
}
