// Runs stuck in STARTING: a worker was spawned (the launch was reported) but never wrote
// RUN_START. Past `limit` (the daemon's startingTimeoutMs) such a run becomes FAILURE with an
// ENGINE event saying why; only a run still STARTING when its row is written (one whose RUN_START
// lands meanwhile is left alone). Returns the runs it failed.
import { appendEngineEvent, setRunStatus } from '../store/runs.js';
import type { Store } from '../store/store.js';

export async function timeoutStartingRuns(store: Store, limit: number): Promise<string[]> {
  const stuck = await store.db
    .selectFrom('runs')
    .select(['id'])
    .where('status', '=', 'STARTING')
    .where('launched_at', '<', store.now() - limit)
    .execute();
  const failed: string[] = [];
  for (const { id } of stuck) {
    const changed = await store.transaction(async (trx) => {
      const r = await setRunStatus(trx, store, id, 'FAILURE', { strict: false, from: ['STARTING'] });
      if (r.changed) {
        await appendEngineEvent(
          trx,
          store,
          id,
          `run did not start within ${Math.round(limit / 1000)} s of launch (STARTING timeout)`,
          'error',
          {
            reason: 'STARTING_TIMEOUT',
            startingTimeoutMs: limit,
          },
        );
      }
      return r.changed;
    });
    if (changed) failed.push(id);
  }
  return failed;
}
