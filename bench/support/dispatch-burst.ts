// The burst section of the dispatch benchmark: launches fired back to back, each `launchRun`
// called the moment the previous run's RUN_START arrived (its run still finishing), so the
// agent's warm standby pool must keep up with launches that come faster than a worker boots.
// Timed as the spaced launches are: launchRun called → RUN_START frame of the run's `runEvents`
// subscription (pushed once stored), on the bench's clock.
import type { Stack } from '../../test/support/stack.js';
import { until } from '../../test/support/wait.js';
import { firstEventArrival } from './run-events-sse.js';
import type { Marks } from './phase-trace.js';

const TERMINAL = ['SUCCESS', 'FAILURE', 'CANCELED'];

export interface BurstResult {
  /** launchRun → RUN_START stored, per launch, in launch order. */
  toStart: number[];
  /** Per launch: handed to a warm standby (RUN_START's data says so). */
  warm: boolean[];
  /** Per launch, for the phase timeline (store marks; history marks are added by the caller). */
  traces: Array<{ runId: string; marks: Marks }>;
  /** Launches whose RUN_START was already stored when the subscription opened (upper bounds). */
  preStored: number;
}

/** Fires `n` launches of `job` back to back, then waits until every run has finished. */
export async function runBurst(stack: Stack, sseToken: string, job: string, n: number): Promise<BurstResult> {
  const res: BurstResult = { toStart: [], warm: [], traces: [], preStored: 0 };
  for (let i = 0; i < n; i++) {
    const t0 = Date.now();
    const id = await stack.launch(job);
    const start = await firstEventArrival(stack.cp.url, sseToken, id, 'RUN_START');
    if (start.at - start.openedAt <= 2) res.preStored++;
    res.toStart.push(start.at - t0);
    res.warm.push(start.data?.warm === true);
    res.traces.push({
      runId: id,
      marks: new Map([
        ['store: enqueued', t0],
        ['store: STARTED (RUN_START stored, seen over SSE)', start.at],
      ]),
    });
  }
  for (const t of res.traces) {
    const run = await until(
      `burst run ${t.runId} finished`,
      async () => {
        const r = await stack.gql<{ run: { status: string; launchedAt: number | null } }>(
          `query($id: ID!) { run(id: $id) { status launchedAt } }`,
          { id: t.runId },
        );
        return TERMINAL.includes(r.run.status) ? r.run : undefined;
      },
      120_000,
      20,
    );
    if (run.status !== 'SUCCESS') throw new Error(`burst run ${t.runId} ended ${run.status}`);
    t.marks.set('store: STARTING (reportRunLaunched)', run.launchedAt ?? NaN);
  }
  return res;
}
