// User code never holds control-plane credentials. The agent already spawns code servers and run
// workers without them; this removes them again in case a hand-written or careless spawner did not.
export function stripCredentials(env: NodeJS.ProcessEnv = process.env): string[] {
  const removed = Object.keys(env).filter(
    (key) => /^OUTPOST_.*(TOKEN|SECRET|PASSWORD)/i.test(key) || key === 'OUTPOST_DATABASE_URL',
  );
  for (const key of removed) delete env[key];
  return removed;
}
